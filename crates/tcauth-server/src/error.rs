//! The one error path from the store and the domain to HTTP.
//!
//! - [`ApiError`]: every JSON endpoint's answer on failure, with the contract's exact status,
//!   body and headers. Internals never reach the body; they go to the log.
//! - [`TokenError`] (the grants' domain errors, which a [`StoreError`] becomes in
//!   `tcauth-store`) into [`ApiError`]: the token endpoint's rows.
//! - [`Surface`]: what a store failure reads as on each surface (OAuth, userinfo, verification,
//!   admin, the sign-in pages), and [`store_failure`], the one place that tells a
//!   [`StoreError`]'s kinds apart. The JSON surfaces return [`SurfaceError`]s, so `?` on a
//!   store call gives the surface's contract body by construction; a new endpoint picks its
//!   surface and gets correct 500 and 503 answers.
//!
//! This module depends on no surface: each surface implements [`Surface`] next to its other
//! bodies.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::marker::PhantomData;
use tcauth_core::TokenError;
use tcauth_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
    pub www_authenticate: Option<&'static str>,
    /// Close the connection after answering (the body was left unread).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        ApiError {
            status,
            body,
            retry_after: None,
            www_authenticate: None,
            close: false,
        }
    }

    /// `{"error": error, "error_description": description}`.
    pub fn oauth(status: StatusCode, error: &str, description: &str) -> Self {
        ApiError::new(
            status,
            json!({"error": error, "error_description": description}),
        )
    }

    /// `{"code": status, "message": message}`: the style of Truecaller's profile and
    /// phone-verification APIs (CONTRACT.md §6, §9).
    pub fn coded(status: StatusCode, message: &str) -> Self {
        ApiError::new(status, json!({"code": status.as_u16(), "message": message}))
    }

    /// Row 1. The rest of the body is not read, so the connection cannot be reused: say so, or
    /// a pooling client sends its next request into a closed socket.
    pub fn too_large() -> Self {
        ApiError {
            close: true,
            ..ApiError::oauth(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "Request body too large",
            )
        }
    }

    pub fn bad_request(description: &str) -> Self {
        ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn empty_parameters() -> Self {
        ApiError::bad_request("Empty parameter(s) in request")
    }

    pub fn invalid_client() -> Self {
        ApiError::oauth(StatusCode::FORBIDDEN, "invalid_client", "Invalid client Id")
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "too_many_requests"}),
            )
        }
    }

    pub fn unavailable() -> Self {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "temporarily_unavailable"}),
            )
        }
    }

    pub fn server_error() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "server_error"}),
        )
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        use StatusCode as S;
        match e {
            TokenError::EmptyParameters => ApiError::empty_parameters(),
            TokenError::UnsupportedGrantType(v) => {
                // CONTRACT.md §1 row 6: the value cut to 64 characters, then JSON-escaped by
                // the serializer (`"`, `\`, `\n`, `\u0001`), never replaced or dropped. RFC 6749
                // §5.2 limits error_description to printable ASCII without `"` and `\`; the
                // contract, which echoes what the client sent, wins.
                let v: String = v.chars().take(64).collect();
                ApiError::oauth(
                    S::BAD_REQUEST,
                    "unsupported_grant_type",
                    &format!("Grant type {v} not supported"),
                )
            }
            TokenError::InvalidClient => ApiError::invalid_client(),
            TokenError::GrantNotAllowed => {
                ApiError::new(S::FORBIDDEN, json!({"error": "invalid_grant"}))
            }
            TokenError::AccessDenied => {
                ApiError::new(S::FORBIDDEN, json!({"error": "access_denied"}))
            }
            TokenError::InvalidCode => {
                ApiError::oauth(S::FORBIDDEN, "invalid_grant", "Invalid authorization code")
            }
            TokenError::InvalidRefreshToken => {
                ApiError::oauth(S::FORBIDDEN, "invalid_grant", "Invalid refresh token")
            }
            TokenError::InvalidVerifier => {
                ApiError::oauth(S::FORBIDDEN, "invalid_grant", "Invalid code verifier")
            }
            TokenError::InvalidScope => ApiError::oauth(
                S::BAD_REQUEST,
                "invalid_scope",
                "Requested scope exceeds the granted scope",
            ),
            TokenError::Unavailable => ApiError::unavailable(),
            TokenError::Internal(m) => {
                tracing::error!(error = %m, "internal error at the token endpoint");
                ApiError::server_error()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status, &self.body);
        let h = resp.headers_mut();
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(w) = self.www_authenticate {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(w));
        }
        if self.close {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// A surface's reading of a store failure: the answers its contract gives an outage (timed
/// out or unreachable, already logged by `AppState::db`), a bug or corrupt data (logged here)
/// and, where a request can cause one, a broken uniqueness rule.
pub trait Surface {
    /// What a failure renders as: an [`ApiError`] for the JSON surfaces.
    type Answer;
    /// Names the surface in the log.
    const NAME: &'static str;
    fn unavailable() -> Self::Answer;
    fn internal() -> Self::Answer;
    /// `None` (the default): a conflict cannot come from a request here, so it is a bug.
    fn conflict(_message: &str) -> Option<Self::Answer> {
        None
    }
}

/// The one match over [`StoreError`]: what `e` reads as on surface `S`.
pub fn store_failure<S: Surface>(e: StoreError) -> S::Answer {
    let internal = |m: &str| {
        tracing::error!(surface = S::NAME, error = %m, "store failure");
        S::internal()
    };
    match e {
        StoreError::Unavailable(_) => S::unavailable(),
        StoreError::Conflict(m) => S::conflict(&m).unwrap_or_else(|| internal(&m)),
        StoreError::Internal(m) => internal(&m),
    }
}

/// A JSON surface's error: an [`ApiError`] that a [`StoreError`] becomes through `S`, so a
/// handler returning `Result<_, SurfaceError<S>>` writes `?` after a store call and never
/// matches the failure itself.
pub struct SurfaceError<S>(pub ApiError, PhantomData<fn() -> S>);

impl<S> std::fmt::Debug for SurfaceError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S> From<ApiError> for SurfaceError<S> {
    fn from(e: ApiError) -> Self {
        SurfaceError(e, PhantomData)
    }
}

impl<S: Surface<Answer = ApiError>> From<StoreError> for SurfaceError<S> {
    fn from(e: StoreError) -> Self {
        SurfaceError(store_failure::<S>(e), PhantomData)
    }
}

impl<S> IntoResponse for SurfaceError<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// The OAuth endpoints' reading (revoke; the token endpoint's grants go through
/// [`TokenError`] to the same bodies): 503 `temporarily_unavailable` with `Retry-After`, 500
/// `server_error`. RFC 7009 §2.2.1: on a 503 the client must assume the token still exists.
pub enum OAuth {}

impl Surface for OAuth {
    type Answer = ApiError;
    const NAME: &'static str = "oauth";
    fn unavailable() -> ApiError {
        ApiError::unavailable()
    }
    fn internal() -> ApiError {
        ApiError::server_error()
    }
}

pub type OAuthError = SurfaceError<OAuth>;

/// A JSON response with `Content-Type: application/json`.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (responses that carry tokens or PII).
pub fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Longest text of an axum rejection carried into a JSON description.
const MAX_REJECTION_TEXT: usize = 200;

/// The one place where answers that axum or a route's fallback made without a JSON body (a
/// 405 from a method router, a path that does not decode, an extractor's `text/plain`
/// rejection) become JSON in the contract's style: `{"code":N,"message":"…"}` on the
/// phone-verification API (`/v1/otp/…`), `{"error":…,"error_description":…}` everywhere
/// else. Answers that already carry a body of their own type (JSON, the sign-in pages'
/// HTML) are left alone, and so are their other headers (`Allow`, `Retry-After`).
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let verification = req.uri().path().starts_with("/v1/otp/");
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !matches!(ct.as_deref(), None | Some("text/plain")) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // An axum rejection's text is short; a longer body is not one of those.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = crate::form::printable(&String::from_utf8_lossy(&text), MAX_REJECTION_TEXT);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = if verification {
        json!({"code": status.as_u16(), "message": format!("{reason}.")})
    } else {
        let error = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request",
        };
        let description = match status {
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed; see the Allow header".into(),
            _ if text.is_empty() => reason.to_string(),
            _ => text,
        };
        json!({"error": error, "error_description": description})
    };
    let fresh = json_response(status, &body);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}
