//! The Truecaller-compatible OAuth endpoints, one module each.

pub mod discovery;
pub mod revoke;
pub mod token;
pub mod userinfo;
pub mod web_profile;

use crate::error::ApiError;
use crate::form::{self, Form};
use crate::metrics::Metrics;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::net::IpAddr;
use tcauth_core::ratelimit::Decision;
use tokio::sync::OwnedSemaphorePermit;

/// Largest form body accepted (CONTRACT.md §1, row 1).
pub const MAX_FORM_BODY: usize = 16 * 1024;

/// Longest time a client may take to send its body.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads at most `limit` bytes of body, whether or not it announced its length.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large());
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect());
    match read.await {
        Ok(Ok(c)) => Ok(c.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::too_large()),
        Ok(Err(_)) => Err(ApiError::bad_request("Could not read the request body")),
        Err(_) => Err(ApiError::oauth(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "invalid_request",
            "Timed out reading the request body",
        )),
    }
}

/// Rows 1 and 2: size, content type and strict form encoding.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, ApiError> {
    let bytes = read_body(headers, body, MAX_FORM_BODY).await?;
    form::check_content_type(headers).map_err(|m| ApiError::bad_request(&m))?;
    form::parse(&bytes).map_err(|m| ApiError::bad_request(&m))
}

/// Rows 3 and 4: the caller's rate limit, then a place among the requests in flight.
pub async fn admit(
    app: &AppState,
    client_id: Option<&str>,
    ip: IpAddr,
) -> Result<OwnedSemaphorePermit, ApiError> {
    if let Decision::Deny { retry_after } = app.limiter.check(client_id, ip).await {
        Metrics::inc(&app.metrics.rate_limited);
        return Err(ApiError::too_many_requests(retry_after));
    }
    enter(app)
}

/// Row 8's client lookup found nothing: the request is charged to the caller's IP bucket as
/// well, so that a caller cannot escape the per-IP limit by sending a fresh unknown client_id
/// each time (each would otherwise have a full bucket of its own). Over the limit: row 3's 429.
pub async fn charge_unknown_client(app: &AppState, ip: IpAddr) -> Result<(), ApiError> {
    match app.limiter.check(None, ip).await {
        Decision::Deny { retry_after } => {
            Metrics::inc(&app.metrics.rate_limited);
            Err(ApiError::too_many_requests(retry_after))
        }
        Decision::Allow => Ok(()),
    }
}

/// A place among the requests in flight, or 503.
pub fn enter(app: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    app.limiter.try_enter().ok_or_else(|| {
        Metrics::inc(&app.metrics.shed);
        ApiError::unavailable()
    })
}
