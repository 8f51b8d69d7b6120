//! Minting tokens: opaque access and refresh tokens, and the RS256 `id_token`.

use crate::state::AppState;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering::Relaxed;
use tcauth_core::model::{AccessToken, IssuedTokens, RefreshToken};
use tcauth_core::secret::{new_token, TokenHash};
use tcauth_core::{Scope, ScopeSet, TokenError};

/// The claims of an `id_token` (OpenID Connect Core §2).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Secrets in clear (for the response) and the records to store (hashes only).
pub struct Minted {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub records: IssuedTokens,
}

/// What the new tokens are for.
pub struct Grant<'a> {
    pub family_id: &'a str,
    pub client_id: &'a str,
    pub sub: i64,
    /// Scopes of the access token.
    pub scopes: ScopeSet,
    /// Scopes the refresh token carries (the original grant's), when one is issued.
    pub refresh: Option<(
        ScopeSet,
        i64, /* auth_time */
        i64, /* family expiry */
    )>,
}

pub fn mint(app: &AppState, g: &Grant<'_>, now: i64) -> Minted {
    let now_ms = crate::now_ms();
    let access_token = new_token(now_ms);
    let access = AccessToken {
        hash: TokenHash::of(&access_token),
        family_id: g.family_id.to_string(),
        client_id: g.client_id.to_string(),
        sub: g.sub,
        scopes: g.scopes,
        issued_at: now,
        expires_at: now + app.settings.access_token_ttl.as_secs() as i64,
        revoked: false,
    };
    let (refresh_token, refresh) = match g.refresh {
        Some((scopes, auth_time, expires_at)) => {
            let t = new_token(now_ms);
            let rec = RefreshToken {
                hash: TokenHash::of(&t),
                family_id: g.family_id.to_string(),
                client_id: g.client_id.to_string(),
                sub: g.sub,
                scopes,
                auth_time,
                issued_at: now,
                expires_at,
                used_at: None,
                revoked: false,
            };
            (Some(t), Some(rec))
        }
        None => (None, None),
    };
    Minted {
        access_token,
        refresh_token,
        records: IssuedTokens { access, refresh },
    }
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token (OIDC Core §3.1.3.6).
fn at_hash(access_token: &str) -> String {
    let d = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// Signs an id_token on the signing threads, off the async runtime's (RSA signing is
/// CPU-bound).
async fn sign_id_token(app: &AppState, claims: IdTokenClaims) -> Result<String, TokenError> {
    let keys = app.keys.get();
    let jwt = app
        .signer
        .run(move || keys.sign_jwt(&claims))
        .await
        .map_err(|e| TokenError::Internal(format!("signing task failed: {e}")))?
        .map_err(|e| TokenError::Internal(format!("signing failed: {e}")))?;
    crate::metrics::Metrics::inc(&app.metrics.id_tokens);
    Ok(jwt)
}

/// The `id_token` that goes with a new access token, when the scopes include `openid`.
pub async fn id_token_for(
    app: &AppState,
    g: &Grant<'_>,
    auth_time: i64,
    nonce: Option<String>,
    access_token: &str,
    now: i64,
) -> Result<Option<String>, TokenError> {
    if !g.scopes.contains(Scope::Openid) {
        return Ok(None);
    }
    let claims = IdTokenClaims {
        iss: app.settings.issuer.clone(),
        sub: g.sub.to_string(),
        aud: g.client_id.to_string(),
        iat: now,
        exp: now + app.settings.access_token_ttl.as_secs() as i64,
        auth_time,
        at_hash: at_hash(access_token),
        nonce,
    };
    sign_id_token(app, claims).await.map(Some)
}

/// Counts what a committed grant issued.
pub fn count(app: &AppState, m: &Minted) {
    app.metrics.access_tokens.fetch_add(1, Relaxed);
    if m.refresh_token.is_some() {
        app.metrics.refresh_tokens.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_vector() {
        // OpenID Connect Core A.3: access token and its at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
