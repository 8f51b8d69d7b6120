//! The token endpoint's errors, one variant per row of the contract's table (CONTRACT.md §1).
//! The HTTP layer maps each to its exact status and body.

/// Rows 5–13 of the token endpoint's error table (rows 1–4 are decided before the grant runs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Rows 5 and 7: a required parameter is missing or empty.
    #[error("empty parameter(s) in request")]
    EmptyParameters,
    /// Row 6. Holds the presented value.
    #[error("unsupported grant type")]
    UnsupportedGrantType(String),
    /// Row 8.
    #[error("invalid client")]
    InvalidClient,
    /// Row 9: grant type not enabled for the client.
    #[error("grant not allowed for client")]
    GrantNotAllowed,
    /// Row 10: code/refresh token of another client, or the user is blocked or deleted.
    #[error("access denied")]
    AccessDenied,
    /// Row 11, for a code.
    #[error("invalid authorization code")]
    InvalidCode,
    /// Row 11, for a refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Row 12.
    #[error("invalid code verifier")]
    InvalidVerifier,
    /// Refresh asked for scopes beyond the grant (RFC 6749 §6).
    #[error("invalid scope")]
    InvalidScope,
    /// Row 4: the store did not answer in time.
    #[error("temporarily unavailable")]
    Unavailable,
    /// Row 13.
    #[error("internal error: {0}")]
    Internal(String),
}
