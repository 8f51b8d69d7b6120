//! `GET /v1/key` (CONTRACT.md §10): `[{"keyType":"RSA","key":"<base64 DER SPKI>"}]`, the
//! current key first, then the previous ones still published (the keys of the JWKS).

use crate::error::json_response;
use crate::oauth::discovery::cacheable;
use crate::state::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn handle(State(app): State<App>) -> Response {
    // The JWKS's cache rule: a rotated-in key must reach verifiers before it signs much.
    cacheable(json_response(StatusCode::OK, &app.keys.get().key_list), 60)
}
