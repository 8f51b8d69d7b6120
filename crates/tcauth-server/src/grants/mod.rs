//! The grants of the token endpoint, one module each, free of HTTP: they take parsed
//! parameters and answer a [`TokenResponse`] or a contract row ([`TokenError`](tcauth_core::TokenError)).
//!
//! Architecture invariant: a grant returns `Ok` only after the store committed the tokens it
//! returns (`redeem_code` / `rotate_refresh_token` are durable before they return).

pub mod authorization_code;
mod issue;
pub mod refresh_token;

use serde::Serialize;

pub use issue::IdTokenClaims;

/// The token endpoint's 200 body.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub token_type: &'static str,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
