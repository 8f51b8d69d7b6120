//! The grants of the token endpoint, one module each, free of HTTP: they take parsed
//! parameters and answer a [`TokenResponse`] or a contract row ([`TokenError`]).
//!
//! Architecture invariant: a grant returns `Ok` only after the store committed the tokens it
//! returns (`redeem_code` / `rotate_refresh_token` are durable before they return).

pub mod authorization_code;
mod issue;
pub mod refresh_token;

use crate::state::DbError;
use serde::Serialize;
use tcauth_core::TokenError;

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

impl From<DbError> for TokenError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => TokenError::Unavailable,
            DbError::Internal(m) | DbError::Conflict(m) => TokenError::Internal(m),
        }
    }
}
