//! Phone verification for users without the Truecaller app (CONTRACT.md §6): request a code,
//! verify it, read the verified number back with the single-use token.
//!
//! Every error is `{"code":N,"message":"…"}` (the contract's style); every response carries
//! `Cache-Control: no-store`. Where the contract is silent:
//!
//! | condition | status | message |
//! |---|---|---|
//! | caller's IP over its request rate (shared with the token endpoint's IP bucket) | 429 + `Retry-After` | `Too many requests. Try again later.` |
//! | server overloaded, or the store unavailable / timed out | 503 + `Retry-After` | `Service unavailable. Try again.` |
//! | body over 16 KiB | 413 | `Request body too large.` |
//! | Content-Type not `application/json` | 415 | `Content-Type must be application/json.` |
//! | body not a JSON object | 400 | `Invalid request body.` |
//! | no `clientId` or `appKey` header, an unknown one, a repeated one, or both naming different clients | 404 | `Invalid partner credentials.` |
//! | request: number missing, unparseable, invalid, or not one that takes SMS | 400 | `Invalid phone number.` |
//! | request: a test client's number that is not one of its test numbers (CONTRACT.md §11; before any send limit) | 403 | `Number not registered for testing.` |
//! | request: a send limit (cooldown, per number, per IP, per country, per client), or the number locked by wrong codes | 429 + `Retry-After` | `Too many requests. Try again later.` |
//! | request: the shared send limits (Redis) did not answer — fail closed | 503 + `Retry-After` | `Service unavailable. Try again.` |
//! | request: the SMS gateway failed | 503 + `Retry-After` | `Could not send the OTP. Try again.` |
//! | verify: unknown, expired, used or another client's `verificationId`, or no `otp` | 400 | `Invalid OTP.` |
//! | verify: wrong code | 400 | `Invalid OTP.` and `attemptsLeft` |
//! | verify: no attempts left, or the number's wrong codes over `otp_wrong_codes_per_number` | 429 + `Retry-After` | `Too many attempts. Request a new OTP.` |
//! | a bug | 500 | `Internal error.` |
//!
//! The partner is named by the `clientId` header or, as SDK v2.8 and iOS do (CONTRACT.md
//! §10), by its `appKey`; with both headers they must name the same client. Every endpoint
//! takes either, and `GET /v1/otp/installation/phoneNumberDetail/{accessToken}` (v2.8's path)
//! is the same handler as the `…/client/installation/…` one ([`partner`]).
//!
//! Order in every endpoint: rate limit, body, then (request) the number, then the client, and
//! the send limits last: they are charged only for a request that will send a code. A test
//! client's test number (§11) gets its fixed code and no message; see [`crate::otp`].

pub mod detail;
pub mod request;
pub mod verify;

use crate::error::{no_store, ApiError, Surface, SurfaceError};
use crate::metrics::Metrics;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::net::IpAddr;
use tcauth_core::model::Client;
use tcauth_core::ratelimit::Decision;
use tokio::sync::OwnedSemaphorePermit;

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Lifetime of the token `verify` returns.
pub const TOKEN_TTL_SECS: i64 = 600;

/// The header naming the partner (client).
pub const CLIENT_ID_HEADER: &str = "clientId";

/// `{"code": status, "message": message}`.
pub fn error(status: StatusCode, message: &str) -> ApiError {
    ApiError::coded(status, message)
}

fn with_retry(e: ApiError, retry_after: u64) -> ApiError {
    ApiError {
        retry_after: Some(retry_after.max(1)),
        ..e
    }
}

pub fn invalid_partner() -> ApiError {
    error(StatusCode::NOT_FOUND, "Invalid partner credentials.")
}

pub fn invalid_body() -> ApiError {
    error(StatusCode::BAD_REQUEST, "Invalid request body.")
}

pub fn too_many_requests(retry_after: u64) -> ApiError {
    with_retry(
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests. Try again later.",
        ),
        retry_after,
    )
}

pub fn unavailable() -> ApiError {
    with_retry(
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable. Try again.",
        ),
        1,
    )
}

pub fn internal() -> ApiError {
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
}

/// The verification API's reading of a store failure: 503 `Service unavailable. Try again.`
/// with `Retry-After`, or 500 `Internal error.`.
pub enum Verification {}

impl Surface for Verification {
    type Answer = ApiError;
    const NAME: &'static str = "verification";
    fn unavailable() -> ApiError {
        unavailable()
    }
    fn internal() -> ApiError {
        internal()
    }
}

/// What this API's handlers fail with: `?` after a store call answers its contract's body.
pub type VerificationError = SurfaceError<Verification>;

/// The caller's IP rate limit, then a place among the requests in flight.
pub async fn admit(app: &AppState, ip: IpAddr) -> Result<OwnedSemaphorePermit, ApiError> {
    if let Decision::Deny { retry_after } = app.limiter.check(None, ip).await {
        Metrics::inc(&app.metrics.rate_limited);
        return Err(too_many_requests(retry_after));
    }
    app.limiter.try_enter().ok_or_else(|| {
        Metrics::inc(&app.metrics.shed);
        unavailable()
    })
}

/// The body as a JSON object: at most [`MAX_JSON_BODY`] bytes, `Content-Type:
/// application/json` (parameters allowed).
pub async fn json_object(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, ApiError> {
    let bytes = crate::oauth::read_body(headers, body, MAX_JSON_BODY)
        .await
        .map_err(|e| match e.status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
            }
            StatusCode::REQUEST_TIMEOUT => error(
                StatusCode::REQUEST_TIMEOUT,
                "Timed out reading the request body.",
            ),
            _ => invalid_body(),
        })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid_body()),
    }
}

/// A string member of `obj`, when it is one.
pub fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

/// The header SDK v2.8 and iOS name the partner with instead (CONTRACT.md §10).
pub const APP_KEY_HEADER: &str = "appKey";

/// A header sent exactly once, as text: `Ok(None)` when absent, `Err` when repeated or not
/// text.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

/// The client the `clientId` header names, or the one the `appKey` header names; with both,
/// they must name the same client. Anything else (neither, a repeated or empty header, an
/// unknown id or key, two headers naming different clients) is 404 "Invalid partner
/// credentials.".
pub async fn partner(app: &AppState, headers: &HeaderMap) -> Result<Client, VerificationError> {
    let (Ok(id), Ok(key)) = (
        single(headers, CLIENT_ID_HEADER),
        single(headers, APP_KEY_HEADER),
    ) else {
        return Err(invalid_partner().into());
    };
    // Ids and keys are short; anything long or empty cannot exist.
    let plausible = |v: &str| !v.is_empty() && v.len() <= 128;
    if !id.is_none_or(plausible) || !key.is_none_or(plausible) {
        return Err(invalid_partner().into());
    }
    let client = match (id, key) {
        (Some(id), _) => app.db(app.store.get_client(id)).await?,
        (None, Some(key)) => app.db(app.store.get_client_by_app_key(key)).await?,
        (None, None) => None,
    };
    // With both headers, the key must be the id's client's (app keys are public: no
    // constant-time comparison needed).
    Ok(client
        .filter(|c| key.is_none_or(|k| k == c.app_key))
        .ok_or_else(invalid_partner)?)
}

/// Renders a handler's result; every answer of this API is `no-store`.
pub fn respond(r: Result<Response, VerificationError>) -> Response {
    no_store(r.unwrap_or_else(IntoResponse::into_response))
}

/// 405 for other methods, naming the one allowed.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = no_store(IntoResponse::into_response(error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed.",
    )));
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Fallback of the POST-only routes.
pub async fn post_only() -> Response {
    method_not_allowed("POST")
}

/// Fallback of the GET-only route.
pub async fn get_only() -> Response {
    method_not_allowed("GET")
}
