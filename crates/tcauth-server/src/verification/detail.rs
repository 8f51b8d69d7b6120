//! `GET /v1/otp/client/installation/phoneNumberDetail/{accessToken}`: the verified number, once.
//!
//! The token travels in the path, as the contract has it; the request log records only the
//! route's template (`MatchedPath`), never the path itself.

use super::{admit, partner, respond, VerificationError};
use crate::error::{json_response, ApiError};
use crate::state::App;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::net::SocketAddr;
use tcauth_core::phone::e164_digits;
use tcauth_core::secret::TokenHash;

pub async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    // The router sends HEAD here too; it must not spend the token.
    if method != Method::GET {
        return super::method_not_allowed("GET");
    }
    let token = token.map(|Path(t)| t).unwrap_or_default();
    respond(run(&app, peer, &headers, &token).await)
}

pub fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        json!({"code": 1404, "message": "Invalid access token."}),
    )
}

async fn run(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: &str,
) -> Result<Response, VerificationError> {
    let _permit = admit(app, peer.ip()).await?;
    let client = partner(app, headers).await?;
    // Anything not shaped like one of our secrets cannot exist.
    if !tcauth_core::secret::has_token_length(token) {
        return Err(invalid_token().into());
    }
    let t = app
        .db(app.store.use_verification_token(
            &TokenHash::of(token),
            &client.client_id,
            crate::now(),
        ))
        .await?
        .ok_or_else(invalid_token)?;
    let number: u64 = e164_digits(&t.phone_e164).parse().map_err(|_| {
        tracing::error!("a verification token holds a malformed phone number");
        super::internal()
    })?;
    // A struct, so the members keep the contract's order.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Detail {
        phone_number: u64,
        country_code: String,
    }
    Ok(json_response(
        StatusCode::OK,
        &Detail {
            phone_number: number,
            country_code: t.phone_country,
        },
    ))
}
