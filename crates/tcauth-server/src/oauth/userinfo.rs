//! `GET|POST /v1/userinfo` (CONTRACT.md §2).

use crate::error::{json_response, no_store, ApiError, Surface, SurfaceError};
use crate::state::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tcauth_core::claims;
use tcauth_core::model::UserStatus;
use tcauth_core::secret::TokenHash;
use tcauth_core::Scope;

pub async fn handle(State(app): State<App>, headers: HeaderMap) -> Response {
    no_store(match run(&app, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

/// The bearer token of an `Authorization: Bearer …` header (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(v), None) = (all.next(), all.next()) else {
        return None;
    };
    let v = v.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Userinfo's reading of a store failure: the contract answers 500 for any, an outage too.
pub enum Userinfo {}

impl Surface for Userinfo {
    type Answer = ApiError;
    const NAME: &'static str = "userinfo";
    fn unavailable() -> ApiError {
        ApiError::server_error()
    }
    fn internal() -> ApiError {
        ApiError::server_error()
    }
}

async fn run(app: &App, headers: &HeaderMap) -> Result<Response, SurfaceError<Userinfo>> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError {
            www_authenticate: Some("Bearer"),
            ..ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "Bearer token required",
            )
        }
        .into());
    };
    let invalid = || ApiError {
        www_authenticate: Some("Bearer error=\"invalid_token\""),
        ..ApiError::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Token is invalid or expired",
        )
    };
    let _permit = super::enter(app)?;
    // The token, its client's existence and its user, in one read.
    let view = app
        .db(app.store.get_access_token_view(&TokenHash::of(token)))
        .await?
        .ok_or_else(invalid)?;
    let at = view.token;
    if at.revoked || at.expires_at <= crate::now() || !view.client_exists {
        return Err(invalid().into());
    }
    if !at.scopes.contains(Scope::Openid) {
        return Err(ApiError::oauth(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_scope",
            "openid scope missing in initial request",
        )
        .into());
    }
    let user = view
        .user
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                json!({"error":"not_found","error_description":"Profile information is not present for the user"}),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        &Value::Object(claims::userinfo(&user, at.scopes)),
    ))
}
