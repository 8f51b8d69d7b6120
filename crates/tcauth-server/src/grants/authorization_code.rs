//! `grant_type=authorization_code` with PKCE S256 (CONTRACT.md §1, rows 10–12).

use super::issue::{self, Grant};
use super::TokenResponse;
use crate::state::AppState;
use tcauth_core::model::{AuthCode, Client, User, UserStatus};
use tcauth_core::secret::TokenHash;
use tcauth_core::{pkce, Scope, TokenError};
use tcauth_store::Redemption;

pub struct CodeRequest<'a> {
    /// The storage key of the code presented.
    pub hash: TokenHash,
    /// The code under that key with its user, as read with the client.
    pub found: Option<(AuthCode, Option<User>)>,
    pub code_verifier: &'a str,
    pub redirect_uri: Option<&'a str>,
}

/// Exchanges a code for tokens. `client` is known to exist and to be allowed this grant.
pub async fn exchange(
    app: &AppState,
    client: &Client,
    req: CodeRequest<'_>,
    now: i64,
) -> Result<TokenResponse, TokenError> {
    let hash = req.hash;
    let (code, user) = req.found.ok_or(TokenError::InvalidCode)?;

    // Row 10: another client's code (not burnt: the thief learns nothing and the rightful
    // client can still redeem it), or a user who can no longer sign in.
    if code.client_id != client.client_id {
        return Err(TokenError::AccessDenied);
    }
    if !matches!(user, Some(ref u) if u.status == UserStatus::Active) {
        return Err(TokenError::AccessDenied);
    }

    // Row 11. A second presentation revokes everything issued from the code (RFC 6749 §4.1.2).
    if code.consumed_at.is_some() {
        app.db(app.store.revoke_family(&code.family_id)).await?;
        tracing::warn!(client_id = %client.client_id, "authorization code replayed: family revoked");
        return Err(TokenError::InvalidCode);
    }
    if code.expires_at <= now {
        return Err(TokenError::InvalidCode);
    }
    if let Some(uri) = req.redirect_uri {
        if code.redirect_uri.as_deref() != Some(uri) {
            return Err(TokenError::InvalidCode);
        }
    }

    // Row 12. A wrong verifier burns the code, so it cannot be guessed at.
    if !pkce::verify(req.code_verifier, &code.code_challenge) {
        app.db(app.store.burn_code(&hash, now)).await?;
        return Err(TokenError::InvalidVerifier);
    }

    // Signing an id_token takes a few hundred microseconds (and a wait for a signing thread):
    // the store may hold a commit open for the redemption that follows, so that it shares an
    // fsync with others instead of paying one of its own.
    let soon = code
        .scopes
        .contains(Scope::Openid)
        .then(|| app.store.announce_write());
    let refresh = (code.scopes.contains(Scope::OfflineAccess)
        && client.allows_grant(tcauth_core::model::GrantType::RefreshToken))
    .then(|| {
        (
            code.scopes,
            code.auth_time,
            now + app.settings.refresh_token_ttl.as_secs() as i64,
        )
    });
    let grant = Grant {
        family_id: &code.family_id,
        client_id: &client.client_id,
        sub: code.sub,
        scopes: code.scopes,
        refresh,
    };
    let minted = issue::mint(app, &grant, now);

    // Sign before committing so a signing failure leaves the code unredeemed.
    let id_token = issue::id_token_for(
        app,
        &grant,
        code.auth_time,
        code.nonce.clone(),
        &minted.access_token,
        now,
    )
    .await?;

    let redeem = app.store.redeem_code(&hash, now, &minted.records);
    drop(soon);
    match app.db(redeem).await? {
        Redemption::Redeemed => {}
        Redemption::AlreadyConsumed => {
            // Lost a race with another redemption of the same code: that is a replay too.
            app.db(app.store.revoke_family(&code.family_id)).await?;
            return Err(TokenError::InvalidCode);
        }
        Redemption::NotFound => return Err(TokenError::InvalidCode),
    }
    issue::count(app, &minted);
    Ok(TokenResponse {
        access_token: minted.access_token,
        expires_in: app.settings.access_token_ttl.as_secs(),
        token_type: "Bearer",
        scope: code.scopes.to_string(),
        refresh_token: minted.refresh_token,
        id_token,
    })
}
