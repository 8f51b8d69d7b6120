//! The admin API (CONTRACT.md §7): clients, users, and minting codes for a trusted identity app.
//! Behind a bearer token compared in constant time; without a configured token it is 404.

pub mod authorizations;
pub mod clients;
pub mod users;

use crate::error::{json_response, ApiError};
use crate::state::{App, DbError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use tcauth_core::secret::ct_eq;
use tcauth_core::validate::FieldError;

/// Largest admin request body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Checks the admin bearer token before any admin handler runs.
pub async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(want) = &app.settings.admin_token else {
        return not_found("").into_response();
    };
    let given = crate::oauth::userinfo::bearer(req.headers()).unwrap_or("");
    if !ct_eq(given.as_bytes(), &want.0) {
        return ApiError {
            www_authenticate: Some("Bearer"),
            ..ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Admin token required",
            )
        }
        .into_response();
    }
    next.run(req).await
}

pub fn not_found(what: &str) -> ApiError {
    if what.is_empty() {
        ApiError::new(StatusCode::NOT_FOUND, json!({"error": "not_found"}))
    } else {
        ApiError::oauth(StatusCode::NOT_FOUND, "not_found", what)
    }
}

pub async fn fallback() -> Response {
    not_found("").into_response()
}

pub fn field_error(e: FieldError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({"error":"invalid_request","error_description": e.to_string(),"field": e.field}),
    )
}

pub fn db_error(e: DbError) -> ApiError {
    match e {
        DbError::Unavailable(_) => ApiError::unavailable(),
        DbError::Conflict(m) => ApiError::oauth(StatusCode::CONFLICT, "conflict", &m),
        DbError::Internal(m) => {
            tracing::error!(error = %m, "admin: store failure");
            ApiError::server_error()
        }
    }
}

/// Reads a JSON body into `T`; any fault is a 400 naming the field `body`.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = crate::oauth::read_body(headers, body, MAX_ADMIN_BODY).await?;
    parse_json(&bytes).map_err(field_error)
}

/// Parses an admin request body into `T`; any fault names the field `body` (the fuzz target
/// `admin_json` enters here).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    serde_json::from_slice(bytes)
        .map_err(|e| FieldError::new("body", crate::form::printable(&e.to_string(), 200)))
}

pub fn created(body: serde_json::Value) -> Response {
    json_response(StatusCode::CREATED, &body)
}

pub fn ok(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &body)
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Turns a handler's result into a response.
pub fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}
