//! `/healthz`, `/readyz`, `/metrics` (CONTRACT.md §8).

use crate::error::json_response;
use crate::state::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The process is up.
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// The store answers within the store timeout.
pub async fn readyz(State(app): State<App>) -> Response {
    match app.db(app.store.ping()).await {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ready"})),
        Err(_) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "unavailable"}),
        ),
    }
}

pub async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        app.metrics.render(),
    )
        .into_response()
}
