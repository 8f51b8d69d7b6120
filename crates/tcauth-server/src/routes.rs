//! The one table of paths.

use crate::state::App;
use crate::{admin, oauth, ops};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::Router;
use std::time::Instant;

pub fn router(app: App) -> Router {
    let admin = Router::new()
        .route("/admin/v1/clients", post(admin::clients::create).get(admin::clients::list))
        .route(
            "/admin/v1/clients/{client_id}",
            get(admin::clients::show).delete(admin::clients::delete),
        )
        .route("/admin/v1/users", post(admin::users::create))
        .route(
            "/admin/v1/users/{sub}",
            get(admin::users::show).delete(admin::users::delete),
        )
        .route("/admin/v1/users/{sub}/block", post(admin::users::block))
        .route("/admin/v1/users/{sub}/unblock", post(admin::users::unblock))
        .route("/admin/v1/authorizations", post(admin::authorizations::create))
        .route("/admin", get(admin::fallback))
        .route("/admin/{*rest}", any(admin::fallback))
        .route_layer(middleware::from_fn_with_state(app.clone(), admin::guard));

    Router::new()
        .route(
            "/v1/token",
            post(oauth::token::handle).fallback(method_not_allowed),
        )
        .route(
            "/v1/userinfo",
            get(oauth::userinfo::handle).post(oauth::userinfo::handle),
        )
        .route(
            "/v1/revoke",
            post(oauth::revoke::handle).fallback(method_not_allowed),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oauth::discovery::configuration),
        )
        .route(oauth::discovery::JWKS_PATH, get(oauth::discovery::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(admin)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn not_found() -> Response {
    crate::error::json_response(StatusCode::NOT_FOUND, &serde_json::json!({"error": "not_found"}))
}

async fn method_not_allowed() -> Response {
    let mut r = crate::error::ApiError::oauth(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "Use POST with an application/x-www-form-urlencoded body",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

/// Counts and times every request, logs it (path only: queries may carry secrets), and adds
/// `X-Content-Type-Options: nosniff`.
async fn observe(State(app): State<App>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    let took = start.elapsed();
    let status = resp.status().as_u16();
    app.metrics.record(&endpoint, status, took);
    tracing::debug!(%method, endpoint, status, micros = took.as_micros() as u64, "request");
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
