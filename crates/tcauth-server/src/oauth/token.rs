//! `POST /v1/token` (CONTRACT.md §1). The table's rows are checked in order: 1–2 in
//! [`read_form`](super::read_form), 3–4 in [`admit`](super::admit), 5–9 here, 10–13 in the grant.

use super::{admit, charge_unknown_client, read_form};
use crate::error::{json_response, no_store, ApiError};
use crate::grants::{authorization_code, refresh_token};
use crate::state::App;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tcauth_core::model::{Client, GrantType};
use tcauth_core::secret::TokenHash;
use tcauth_core::TokenError;

/// Row 9: the client exists and may use this grant.
fn known_client(client: Option<Client>, grant: GrantType) -> Result<Client, TokenError> {
    let client = client.ok_or(TokenError::InvalidClient)?;
    if !client.allows_grant(grant) {
        return Err(TokenError::GrantNotAllowed);
    }
    Ok(client)
}

pub async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    no_store(match run(&app, peer, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

async fn run(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let form = read_form(headers, body).await?;
    let _permit = admit(app, form.non_empty("client_id"), peer.ip()).await?;

    let grant = match form.non_empty("grant_type") {
        None => return Err(ApiError::empty_parameters()),
        Some(g) => {
            GrantType::parse(g).ok_or_else(|| TokenError::UnsupportedGrantType(g.to_string()))?
        }
    };
    let required: &[&str] = match grant {
        GrantType::AuthorizationCode => &["client_id", "code", "code_verifier"],
        GrantType::RefreshToken => &["client_id", "refresh_token"],
    };
    if required.iter().any(|p| form.non_empty(p).is_none()) {
        return Err(ApiError::empty_parameters());
    }
    let client_id = form.non_empty("client_id").unwrap_or_default();

    // The client and the grant's code or token are read in one snapshot; the client's rows
    // (9) are still checked before anything about the code or token.
    let now = crate::now();
    let resp = match grant {
        GrantType::AuthorizationCode => {
            let hash = TokenHash::of(form.non_empty("code").unwrap_or_default());
            let (client, found) = app
                .db(app.store.get_client_and_code(client_id, &hash))
                .await
                .map_err(TokenError::from)?;
            if client.is_none() {
                charge_unknown_client(app, peer.ip()).await?;
            }
            let client = known_client(client, grant)?;
            authorization_code::exchange(
                app,
                &client,
                authorization_code::CodeRequest {
                    hash,
                    found,
                    code_verifier: form.non_empty("code_verifier").unwrap_or_default(),
                    redirect_uri: form.non_empty("redirect_uri"),
                },
                now,
            )
            .await?
        }
        GrantType::RefreshToken => {
            let hash = TokenHash::of(form.non_empty("refresh_token").unwrap_or_default());
            let (client, found) = app
                .db(app.store.get_client_and_refresh_token(client_id, &hash))
                .await
                .map_err(TokenError::from)?;
            if client.is_none() {
                charge_unknown_client(app, peer.ip()).await?;
            }
            let client = known_client(client, grant)?;
            refresh_token::exchange(
                app,
                &client,
                refresh_token::RefreshRequest {
                    hash,
                    found,
                    scope: form.get("scope"),
                },
                now,
            )
            .await?
        }
    };
    Ok(json_response(StatusCode::OK, &resp))
}
