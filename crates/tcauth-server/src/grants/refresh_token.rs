//! `grant_type=refresh_token` with strict rotation (CONTRACT.md §1, rules of the refresh grant).
//!
//! Every use returns a new refresh token and retires the old one. Any second use of a retired
//! token — a replay or a concurrent double submit alike — revokes the whole family.

use super::issue::{self, Grant};
use super::TokenResponse;
use crate::state::AppState;
use tcauth_core::model::{Client, RefreshToken, User, UserStatus};
use tcauth_core::secret::TokenHash;
use tcauth_core::{Scope, ScopeSet, TokenError};
use tcauth_store::Rotation;

pub struct RefreshRequest<'a> {
    /// The storage key of the refresh token presented.
    pub hash: TokenHash,
    /// The token under that key with its user, as read with the client.
    pub found: Option<(RefreshToken, Option<User>)>,
    /// Optional narrower scope.
    pub scope: Option<&'a str>,
}

pub async fn exchange(
    app: &AppState,
    client: &Client,
    req: RefreshRequest<'_>,
    now: i64,
) -> Result<TokenResponse, TokenError> {
    let hash = req.hash;
    let (rt, user) = req.found.ok_or(TokenError::InvalidRefreshToken)?;

    if rt.client_id != client.client_id {
        return Err(TokenError::AccessDenied);
    }
    if !matches!(user, Some(ref u) if u.status == UserStatus::Active) {
        return Err(TokenError::AccessDenied);
    }
    if rt.revoked || rt.expires_at <= now {
        return Err(TokenError::InvalidRefreshToken);
    }
    if rt.used_at.is_some() {
        app.db(app.store.revoke_family(&rt.family_id)).await?;
        tracing::warn!(client_id = %client.client_id, "retired refresh token reused: family revoked");
        return Err(TokenError::InvalidRefreshToken);
    }

    let scopes = match req.scope.filter(|s| !s.trim().is_empty()) {
        None => rt.scopes,
        Some(s) => {
            let asked = ScopeSet::parse(s).map_err(|_| TokenError::InvalidScope)?;
            if asked.is_empty() || !asked.is_subset_of(rt.scopes) {
                return Err(TokenError::InvalidScope);
            }
            asked
        }
    };

    let grant = Grant {
        family_id: &rt.family_id,
        client_id: &client.client_id,
        sub: rt.sub,
        scopes,
        refresh: Some((rt.scopes, rt.auth_time, rt.expires_at)),
    };
    // As for a code: the store may hold a commit open for the rotation while we sign.
    let soon = scopes
        .contains(Scope::Openid)
        .then(|| app.store.announce_write());
    let minted = issue::mint(app, &grant, now);
    // OIDC Core §12.2: a refreshed id_token keeps auth_time and carries no nonce.
    let id_token =
        issue::id_token_for(app, &grant, rt.auth_time, None, &minted.access_token, now).await?;

    let rotate = app.store.rotate_refresh_token(&hash, now, &minted.records);
    drop(soon);
    match app.db(rotate).await? {
        Rotation::Rotated => {}
        Rotation::AlreadyUsed => {
            app.db(app.store.revoke_family(&rt.family_id)).await?;
            return Err(TokenError::InvalidRefreshToken);
        }
        Rotation::NotFound => return Err(TokenError::InvalidRefreshToken),
    }
    issue::count(app, &minted);
    Ok(TokenResponse {
        access_token: minted.access_token,
        expires_in: app.settings.access_token_ttl.as_secs(),
        token_type: "Bearer",
        scope: scopes.to_string(),
        refresh_token: minted.refresh_token,
        id_token,
    })
}
