//! `/.well-known/openid-configuration` and the JWKS (CONTRACT.md §4).

use crate::error::json_response;
use crate::state::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use tcauth_core::claims;
use tcauth_core::model::GrantType;
use tcauth_core::ScopeSet;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The discovery document for `issuer`.
pub fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/v1/auth"),
        "token_endpoint": format!("{issuer}/v1/token"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "revocation_endpoint": format!("{issuer}/v1/revoke"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "scopes_supported": ScopeSet::all().names(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": claims::SUPPORTED,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// `Cache-Control: public, max-age=<secs>` and `Access-Control-Allow-Origin: *` (public keys and
/// metadata; `GET /v1/key` too).
pub fn cacheable(mut r: Response, secs: u32) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={secs}"))
            .unwrap_or(HeaderValue::from_static("no-cache")),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

pub async fn configuration(State(app): State<App>) -> Response {
    cacheable(json_response(StatusCode::OK, &app.discovery), 3600)
}

pub async fn jwks(State(app): State<App>) -> Response {
    // Short cache: a rotated-in key must reach verifiers before it signs much.
    cacheable(json_response(StatusCode::OK, &app.keys.get().jwks), 60)
}
