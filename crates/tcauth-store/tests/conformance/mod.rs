//! The conformance story every [`Store`] backend must pass.
//!
//! Each check is a `pub async fn` taking a fresh, empty store, so each backend's runner
//! (a module of `tests/tests.rs`: `sqlite.rs`, `postgres.rs`) runs the same story:
//!
//! ```ignore
//! use crate::conformance as suite;
//!
//! macro_rules! run { ($($check:ident),* $(,)?) => { /* one #[tokio::test] per $check */ } }
//! suite::every_check!(run);
//! ```

use std::sync::Arc;
use tcauth_core::model::{
    AccessToken, Address, AuthCode, Client, GrantType, IssuedTokens, RefreshToken,
    SigningKeyRecord, User, UserStatus,
};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::TokenHash;
use tcauth_store::{Store, StoreError};

// One module per topic; each check is re-exported here, where `every_check!` names it.
pub mod branding;
pub mod clients;
pub mod codes;
pub mod concurrency;
pub mod interactions;
pub mod keys;
pub mod otp;
pub mod snapshots;
pub mod sweeping;
pub mod test_mode;
pub mod tokens;
pub mod users;
pub mod web;
pub use branding::client_branding;
pub use clients::clients_crud;
pub use codes::codes;
pub use concurrency::{concurrent_code_redemption, concurrent_mixed, concurrent_refresh_rotation};
pub use interactions::{concurrent_interaction_finish, finished_interactions};
pub use keys::signing_keys;
pub use otp::{
    concurrent_otp_check, concurrent_verification_token_use, otp_attempts_run_out, otp_challenges,
    otp_sweep, verification_tokens,
};
pub use snapshots::snapshot_reads;
pub use sweeping::sweep;
pub use test_mode::{client_modes, test_numbers};
pub use tokens::{refresh_rotation, revocation, tokens_outlive_user_and_client};
pub use users::{users_crud, users_import_all_or_nothing, users_listed_in_pages};
pub use web::{
    client_updates_and_app_keys, concurrent_delivery_claims, deliveries_outbox, request_nonces,
    web_finish_all_or_nothing,
};

/// Calls `$run!` with the name of every check, so each backend's test file runs all of them:
/// `suite::every_check!(my_backend_tests);`. A new check is added here and nowhere else.
macro_rules! every_check {
    ($run:ident) => {
        $run!(
            ping,
            clients_crud,
            client_branding,
            users_crud,
            users_import_all_or_nothing,
            users_listed_in_pages,
            codes,
            refresh_rotation,
            revocation,
            tokens_outlive_user_and_client,
            snapshot_reads,
            signing_keys,
            sweep,
            concurrent_code_redemption,
            concurrent_refresh_rotation,
            concurrent_mixed,
            otp_challenges,
            otp_attempts_run_out,
            verification_tokens,
            otp_sweep,
            concurrent_otp_check,
            concurrent_verification_token_use,
            finished_interactions,
            concurrent_interaction_finish,
            client_updates_and_app_keys,
            request_nonces,
            deliveries_outbox,
            web_finish_all_or_nothing,
            concurrent_delivery_claims,
            client_modes,
            test_numbers,
        );
    };
}
pub(crate) use every_check;

/// "Now" in every check.
pub const NOW: i64 = 1_700_000_000;

pub fn h(name: &str) -> TokenHash {
    TokenHash::of(name)
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub fn client(id: &str, created_at: i64) -> Client {
    Client {
        client_id: id.to_string(),
        name: format!("App {id}"),
        redirect_uris: vec![
            format!("https://{id}.example/cb"),
            "com.example.app:/oauth".to_string(),
        ],
        scopes: scopes("openid profile phone offline_access"),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        rate_limit: None,
        branding: None,
        created_at,
        app_key: format!("key-{id}"),
        callback_url: None,
        callback_salt: None,
        package_name: None,
        updated_at_ms: created_at * 1000,
        mode: tcauth_core::model::ClientMode::Live,
    }
}

pub fn user(sub: i64, phone: &str) -> User {
    User {
        sub,
        phone_e164: phone.to_string(),
        phone_country: "IN".to_string(),
        phone_verified: true,
        given_name: Some("Asha".to_string()),
        family_name: None,
        email: Some(format!("{sub}@example.com")),
        picture: None,
        gender: Some("female".to_string()),
        address: None,
        status: UserStatus::Active,
        created_at: NOW,
    }
}

/// A user with every column set, so that a read that mixed two columns up would show.
pub fn full_user(sub: i64, phone: &str) -> User {
    let mut u = user(sub, phone);
    u.family_name = Some("Rao".to_string());
    u.picture = Some("https://example.com/a.png".to_string());
    u.address = Some(Address {
        street_address: Some("1 MG Road".to_string()),
        locality: Some("Bengaluru".to_string()),
        region: Some("Karnataka".to_string()),
        postal_code: Some("560001".to_string()),
        country: Some("IN".to_string()),
    });
    u
}

pub fn code(name: &str, family: &str, expires_at: i64) -> AuthCode {
    AuthCode {
        hash: h(name),
        family_id: family.to_string(),
        client_id: "app".to_string(),
        sub: 42,
        scopes: scopes("openid phone offline_access"),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string(),
        redirect_uri: Some("https://app.example/cb".to_string()),
        nonce: Some(format!("nonce-{name}")),
        auth_time: NOW - 5,
        expires_at,
        consumed_at: None,
    }
}

pub fn access(name: &str, family: &str, expires_at: i64) -> AccessToken {
    AccessToken {
        hash: h(name),
        family_id: family.to_string(),
        client_id: "app".to_string(),
        sub: 42,
        scopes: scopes("openid phone"),
        issued_at: NOW,
        expires_at,
        revoked: false,
    }
}

pub fn refresh(name: &str, family: &str, expires_at: i64) -> RefreshToken {
    RefreshToken {
        hash: h(name),
        family_id: family.to_string(),
        client_id: "app".to_string(),
        sub: 42,
        scopes: scopes("openid phone offline_access"),
        auth_time: NOW - 5,
        issued_at: NOW,
        expires_at,
        used_at: None,
        revoked: false,
    }
}

/// An access token `{prefix}-at` and, with `with_refresh`, a refresh token `{prefix}-rt`.
pub fn issued(prefix: &str, family: &str, with_refresh: bool) -> IssuedTokens {
    IssuedTokens {
        access: access(&format!("{prefix}-at"), family, NOW + 3600),
        refresh: with_refresh.then(|| refresh(&format!("{prefix}-rt"), family, NOW + 86_400)),
    }
}

pub fn key(kid: &str, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_string(),
        private_key_sealed: format!("sealed-{kid}").into_bytes(),
        public_n: vec![0xc3; 256],
        public_e: vec![1, 0, 1],
        created_at,
        current: false,
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, mentions: &str) {
    match r {
        Err(StoreError::Conflict(m)) => assert!(
            m.contains(mentions),
            "conflict message {m:?} should mention {mentions:?}"
        ),
        other => panic!("expected Conflict mentioning {mentions:?}, got {other:?}"),
    }
}

// --- checks (the others are in the topical modules above) ---------------------------------------

pub async fn ping(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}
