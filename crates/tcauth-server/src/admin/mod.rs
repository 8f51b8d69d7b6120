//! The admin API (CONTRACT.md §7): clients, users, and minting codes for a trusted identity app.
//! Behind a bearer token compared in constant time; without a configured token it is 404.
//! Failed authentications are limited per address ([`crate::lockout`]), counted and logged.

pub mod authorizations;
pub mod clients;
pub mod profiles;
pub mod users;

use crate::error::{json_response, ApiError, Surface, SurfaceError};
use crate::metrics::Metrics;
use crate::state::App;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tcauth_core::secret::ct_eq;
use tcauth_core::validate::FieldError;

/// Largest admin request body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Checks the admin bearer token before any admin handler runs. An address with too many
/// failures is answered 429 before its token is compared (a right token too: see
/// [`crate::lockout`]); a wrong or missing token is charged to the address, counted and logged (at
/// most a line a second, with the address and the route, never the token).
pub async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(want) = &app.settings.admin_token else {
        return not_found("").into_response();
    };
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("/admin", |p| p.as_str())
        .to_string();
    let hold = match app.admin_lockout.reserve(ip).await {
        Ok(hold) => hold,
        Err(retry_after) => {
            Metrics::inc(&app.metrics.admin_locked_out);
            Metrics::inc(&app.metrics.rate_limited);
            if let Some(left_out) = app.admin_lockout.locked_log.allow(crate::now_ms()) {
                tracing::warn!(
                    %ip,
                    %path,
                    retry_after,
                    left_out,
                    "admin locked out: too many failed authentications from this address"
                );
            }
            return ApiError::too_many_requests(retry_after).into_response();
        }
    };
    let given = crate::oauth::userinfo::bearer(req.headers());
    if !ct_eq(given.unwrap_or("").as_bytes(), &want.0) {
        // The failure taken by `reserve` stays charged.
        Metrics::inc(&app.metrics.admin_auth_failures);
        if let Some(left_out) = app.admin_lockout.failure_log.allow(crate::now_ms()) {
            let bearer = if given.is_some() { "wrong" } else { "missing" };
            tracing::warn!(%ip, %path, bearer, left_out, "admin authentication failed");
        }
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
    app.admin_lockout.give_back(hold).await;
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

/// The admin API's reading of a store failure: 503 `temporarily_unavailable`, 500
/// `server_error`, and 409 `conflict` for a broken uniqueness rule (a phone number or a client
/// id that exists).
pub enum Admin {}

impl Surface for Admin {
    type Answer = ApiError;
    const NAME: &'static str = "admin";
    fn unavailable() -> ApiError {
        ApiError::unavailable()
    }
    fn internal() -> ApiError {
        ApiError::server_error()
    }
    fn conflict(message: &str) -> Option<ApiError> {
        Some(ApiError::oauth(StatusCode::CONFLICT, "conflict", message))
    }
}

/// What the admin handlers fail with: `?` after a store call answers the contract's body.
pub type AdminError = SurfaceError<Admin>;

/// Reads a JSON body into `T`. A fault is a 400 naming the member at fault (CONTRACT.md §7):
/// one of the wrong type or value (`scopes`, `redirect_uris[1]`, `rate_limit.burst`), a
/// missing one, or an unknown one; `body` only when there is no member to name (not JSON, or
/// not an object).
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = crate::oauth::read_body(headers, body, MAX_ADMIN_BODY).await?;
    parse_json(&bytes).map_err(field_error)
}

/// Parses an admin request body into `T`; a fault names the member it is about (`scopes[1]`,
/// `rate_limit.per_second`), or `body` (the fuzz target `admin_json` enters here).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    let message = |e: &serde_json::Error| crate::form::printable(&e.to_string(), 200);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The path echoes the client's member names: printable, and as short as the message.
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        FieldError::new(
            crate::form::printable(&field_of(&e), 200),
            message(e.inner()),
        )
    })?;
    // Nothing but white space may follow the value.
    de.end().map_err(|e| FieldError::new("body", message(&e)))?;
    Ok(value)
}

/// The member a JSON fault is about, or `body`.
fn field_of(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    if !inner.is_data() {
        return "body".into(); // syntax, truncation
    }
    let path = e.path().to_string();
    let named = |prefix: &str| {
        let m = inner.to_string();
        let rest = m.strip_prefix(prefix)?;
        let name = rest.split('`').next()?;
        Some(name.to_string())
    };
    // An unknown member is the path's last segment already; a missing one is not.
    let member = named("missing field `");
    match (path.as_str(), member) {
        (".", Some(m)) => m,
        (".", None) => "body".into(),
        (p, _) if p.starts_with('[') => "body".into(), // the body is an array
        (p, Some(m)) => format!("{p}.{m}"),
        (p, None) => p.to_string(),
    }
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
pub fn respond(r: Result<Response, AdminError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}
