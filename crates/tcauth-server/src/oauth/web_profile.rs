//! `GET /v1/default` (CONTRACT.md §9): Truecaller's web profile of the user an access token
//! with the `profile` scope (a Mobile Websites token, or any other) was issued for.
//!
//! Errors are `{"code":N,"message":"…"}`, Truecaller's style for this endpoint. Where the
//! contract is silent, userinfo's rules (§2) apply:
//!
//! | condition | status | body / header |
//! |---|---|---|
//! | no `Authorization: Bearer`, token unknown, expired or revoked, its client deleted, or no `profile` scope | 401 | `{"code":401,"message":"Unauthorized"}`, `WWW-Authenticate: Bearer` |
//! | user deleted or blocked since the token was issued | 404 | `{"code":404,"message":"Profile information is not present for the user"}` |
//! | server overloaded, or the store unavailable / timed out | 503 + `Retry-After: 1` | `{"code":503,"message":"Service Unavailable"}` |
//! | store failure or internal error | 500 | `{"code":500,"message":"Internal Server Error"}` |
//!
//! Every answer is `Cache-Control: no-store` (a person's profile).

use super::userinfo::bearer;
use crate::error::{json_response, no_store, ApiError, Surface, SurfaceError};
use crate::state::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tcauth_core::model::UserStatus;
use tcauth_core::profile::web_profile;
use tcauth_core::secret::TokenHash;
use tcauth_core::Scope;

pub async fn handle(State(app): State<App>, headers: HeaderMap) -> Response {
    no_store(match run(&app, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

/// Other methods: 405 in this endpoint's style.
pub async fn get_only() -> Response {
    let mut r = no_store(
        ApiError::coded(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response(),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    r
}

pub fn unauthorized() -> ApiError {
    ApiError {
        www_authenticate: Some("Bearer"),
        ..ApiError::coded(StatusCode::UNAUTHORIZED, "Unauthorized")
    }
}

pub fn not_found() -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "Profile information is not present for the user",
    )
}

fn unavailable() -> ApiError {
    ApiError {
        retry_after: Some(1),
        ..ApiError::coded(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}

/// `/v1/default`'s reading of a store failure: 503 for an outage, 500 for the rest.
pub enum WebProfile {}

impl Surface for WebProfile {
    type Answer = ApiError;
    const NAME: &'static str = "web_profile";
    fn unavailable() -> ApiError {
        unavailable()
    }
    fn internal() -> ApiError {
        ApiError::coded(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

async fn run(app: &App, headers: &HeaderMap) -> Result<Response, SurfaceError<WebProfile>> {
    let token = bearer(headers).ok_or_else(unauthorized)?;
    let _permit = super::enter(app).map_err(|_| unavailable())?;
    // The token, its client's existence and its user, in one read (as userinfo).
    let view = app
        .db(app.store.get_access_token_view(&TokenHash::of(token)))
        .await?
        .ok_or_else(unauthorized)?;
    let at = view.token;
    if at.revoked
        || at.expires_at <= crate::now()
        || !view.client_exists
        || !at.scopes.contains(Scope::Profile)
    {
        return Err(unauthorized().into());
    }
    let user = view
        .user
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, &web_profile(&user)))
}
