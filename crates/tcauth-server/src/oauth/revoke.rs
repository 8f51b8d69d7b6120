//! `POST /v1/revoke` (RFC 7009; CONTRACT.md §3). Answers 200 `{}` whether or not the token
//! existed; a token of another client is left alone.

use super::{admit, charge_unknown_client, read_form};
use crate::error::{json_response, ApiError, OAuthError};
use crate::state::App;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use tcauth_core::secret::TokenHash;

pub async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(&app, peer, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let form = read_form(headers, body).await?;
    let _permit = admit(app, form.non_empty("client_id"), peer.ip()).await?;
    let (Some(token), Some(client_id)) = (form.non_empty("token"), form.non_empty("client_id"))
    else {
        return Err(ApiError::empty_parameters().into());
    };
    if app.db(app.store.get_client(client_id)).await?.is_none() {
        charge_unknown_client(app, peer.ip()).await?;
        return Err(ApiError::invalid_client().into());
    }
    let hash = TokenHash::of(token);
    // token_type_hint is only a hint (RFC 7009 §2.1): look in both places.
    if let Some(rt) = app.db(app.store.get_refresh_token(&hash)).await? {
        if rt.client_id == client_id {
            app.db(app.store.revoke_family(&rt.family_id)).await?;
        }
    } else if let Some(at) = app.db(app.store.get_access_token(&hash)).await? {
        if at.client_id == client_id {
            app.db(app.store.revoke_access_token(&hash)).await?;
        }
    }
    Ok(json_response(StatusCode::OK, &json!({})))
}
