//! The conformance story every [`Store`] backend must pass.
//!
//! Each check is a `pub async fn` taking a fresh, empty store, so another backend's test file
//! can run the same story:
//!
//! ```ignore
//! #[path = "conformance/mod.rs"]
//! mod suite;
//!
//! macro_rules! run { ($($check:ident),* $(,)?) => { /* one #[tokio::test] per $check */ } }
//! suite::every_check!(run);
//! ```

#![allow(dead_code)] // a backend's test file may not run every check

use std::sync::Arc;
use tcauth_core::model::{
    AccessToken, Address, AuthCode, Client, GrantType, IssuedTokens, RateLimit, RefreshToken,
    SigningKeyRecord, User, UserStatus,
};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::TokenHash;
use tcauth_store::{AccessTokenView, Redemption, Rotation, Store, StoreError};
use tokio::sync::Barrier;

pub mod branding;
pub mod interactions;
pub mod otp;
pub use branding::client_branding;
pub use interactions::{concurrent_interaction_finish, finished_interactions};
pub use otp::{
    concurrent_otp_check, concurrent_verification_token_use, otp_attempts_run_out, otp_challenges,
    otp_sweep, verification_tokens,
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

// --- checks ----------------------------------------------------------------------------------

pub async fn ping(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

pub async fn clients_crud(store: Arc<dyn Store>) {
    assert_eq!(store.list_clients().await.unwrap(), vec![]);
    assert_eq!(store.get_client("b").await.unwrap(), None);

    let mut b = client("b", NOW);
    b.rate_limit = Some(RateLimit {
        per_second: 100,
        burst: 200,
    });
    let mut a = client("a", NOW);
    a.grant_types = vec![GrantType::AuthorizationCode];
    a.redirect_uris = vec!["https://a.example/cb?x=\"quoted\"".to_string()];
    let older = client("z-older", NOW - 10);
    store.create_client(&b).await.unwrap();
    store.create_client(&a).await.unwrap();
    store.create_client(&older).await.unwrap();

    assert_eq!(store.get_client("b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.get_client("a").await.unwrap(), Some(a.clone()));
    // Ordered by creation time, then id.
    assert_eq!(
        store.list_clients().await.unwrap(),
        vec![older.clone(), a.clone(), b.clone()]
    );

    // Duplicate id: Conflict naming it, and the original is untouched.
    let mut dup = client("b", NOW + 1);
    dup.name = "Impostor".to_string();
    assert_conflict(store.create_client(&dup).await, "b");
    assert_eq!(store.get_client("b").await.unwrap(), Some(b.clone()));

    assert!(store.delete_client("b").await.unwrap());
    assert!(!store.delete_client("b").await.unwrap());
    assert_eq!(store.get_client("b").await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), vec![older, a]);
    // The id is free again.
    store.create_client(&dup).await.unwrap();
    assert_eq!(store.get_client("b").await.unwrap(), Some(dup));
}

pub async fn users_crud(store: Arc<dyn Store>) {
    assert_eq!(store.get_user(1).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        None
    );

    let u = full_user(1, "+919876543210");
    let mut bare = user(2, "+14155550123");
    bare.phone_country = "US".to_string();
    bare.phone_verified = false;
    bare.given_name = None;
    bare.email = None;
    bare.gender = None;
    bare.address = Some(Address::default());
    store.create_user(&u).await.unwrap();
    store.create_user(&bare).await.unwrap();

    assert_eq!(store.get_user(1).await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_user(2).await.unwrap(), Some(bare.clone()));
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        Some(u.clone())
    );

    // Same phone, other sub: Conflict naming the phone number.
    assert_conflict(
        store.create_user(&user(3, "+919876543210")).await,
        "+919876543210",
    );
    assert_eq!(store.get_user(3).await.unwrap(), None);
    // Same sub, other phone: Conflict too.
    assert!(matches!(
        store.create_user(&user(1, "+919999999999")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_user_by_phone("+919999999999").await.unwrap(),
        None
    );

    // Status changes.
    assert!(store.set_user_status(1, UserStatus::Blocked).await.unwrap());
    assert_eq!(
        store.get_user(1).await.unwrap().unwrap().status,
        UserStatus::Blocked
    );
    assert!(store.set_user_status(1, UserStatus::Active).await.unwrap());
    assert_eq!(store.get_user(1).await.unwrap(), Some(u.clone()));
    assert!(!store
        .set_user_status(99, UserStatus::Blocked)
        .await
        .unwrap());

    // Delete: gone for good, and the phone number is free again.
    assert!(store.delete_user(1).await.unwrap());
    assert!(!store.delete_user(1).await.unwrap());
    assert_eq!(store.get_user(1).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        None
    );
    assert_eq!(store.get_user(2).await.unwrap(), Some(bare));
    store.create_user(&user(4, "+919876543210")).await.unwrap();
    assert_eq!(
        store
            .get_user_by_phone("+919876543210")
            .await
            .unwrap()
            .unwrap()
            .sub,
        4
    );
}

pub async fn users_import_all_or_nothing(store: Arc<dyn Store>) {
    store.create_user(&user(1, "+911111111111")).await.unwrap();

    // A batch whose third user takes an existing number: nobody is inserted.
    let batch = vec![
        user(10, "+912222222222"),
        user(11, "+913333333333"),
        user(12, "+911111111111"),
        user(13, "+914444444444"),
    ];
    assert_conflict(store.import_users(&batch).await, "+911111111111");
    for u in &batch[..2] {
        assert_eq!(store.get_user(u.sub).await.unwrap(), None);
        assert_eq!(store.get_user_by_phone(&u.phone_e164).await.unwrap(), None);
    }
    assert_eq!(store.get_user(13).await.unwrap(), None);

    // A batch with a duplicate within itself: nobody, and the message names that number.
    let batch = vec![
        user(20, "+915555555555"),
        user(21, "+916666666666"),
        user(22, "+915555555555"),
    ];
    assert_conflict(store.import_users(&batch).await, "+915555555555");
    assert_eq!(store.get_user(20).await.unwrap(), None);
    assert_eq!(store.get_user(21).await.unwrap(), None);

    // The first conflicting number is the one named.
    let batch = vec![
        user(30, "+917777777777"),
        user(31, "+911111111111"),
        user(32, "+917777777777"),
    ];
    assert_conflict(store.import_users(&batch).await, "+911111111111");

    // A clean batch: everyone.
    let batch: Vec<User> = (0..50)
        .map(|i| user(100 + i, &format!("+9180000000{i:02}")))
        .collect();
    store.import_users(&batch).await.unwrap();
    for u in &batch {
        assert_eq!(store.get_user(u.sub).await.unwrap().as_ref(), Some(u));
    }
    // An empty batch is fine.
    store.import_users(&[]).await.unwrap();
    assert_eq!(
        store.get_user(1).await.unwrap(),
        Some(user(1, "+911111111111"))
    );
}

pub async fn codes(store: Arc<dyn Store>) {
    let c = code("c1", "fam1", NOW + 60);
    store.insert_code(&c).await.unwrap();
    assert_eq!(store.get_code(&h("c1")).await.unwrap(), Some(c.clone()));
    assert_eq!(store.get_code(&h("nope")).await.unwrap(), None);
    // The same code twice is a conflict.
    assert!(matches!(
        store.insert_code(&c).await,
        Err(StoreError::Conflict(_))
    ));

    // Redeem: tokens are committed with it, and readable.
    let t = issued("r1", "fam1", true);
    assert_eq!(
        store.redeem_code(&h("c1"), NOW, &t).await.unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(
        store.get_access_token(&h("r1-at")).await.unwrap(),
        Some(t.access.clone())
    );
    assert_eq!(
        store.get_refresh_token(&h("r1-rt")).await.unwrap(),
        t.refresh.clone()
    );
    let after = store.get_code(&h("c1")).await.unwrap().unwrap();
    assert_eq!(after.consumed_at, Some(NOW));
    assert_eq!(
        after,
        AuthCode {
            consumed_at: Some(NOW),
            ..c.clone()
        }
    );

    // Second redemption: AlreadyConsumed, nothing written.
    let t2 = issued("r2", "fam1", true);
    assert_eq!(
        store.redeem_code(&h("c1"), NOW + 1, &t2).await.unwrap(),
        Redemption::AlreadyConsumed
    );
    assert_eq!(store.get_access_token(&h("r2-at")).await.unwrap(), None);
    assert_eq!(store.get_refresh_token(&h("r2-rt")).await.unwrap(), None);
    assert_eq!(
        store.get_code(&h("c1")).await.unwrap().unwrap().consumed_at,
        Some(NOW)
    );

    // Unknown code: NotFound.
    assert_eq!(
        store.redeem_code(&h("nope"), NOW, &t2).await.unwrap(),
        Redemption::NotFound
    );
    assert_eq!(store.get_access_token(&h("r2-at")).await.unwrap(), None);

    // Expired (expires_at == now counts as expired): NotFound, stays unconsumed.
    store
        .insert_code(&code("c-exp", "fam2", NOW))
        .await
        .unwrap();
    assert_eq!(
        store.redeem_code(&h("c-exp"), NOW, &t2).await.unwrap(),
        Redemption::NotFound
    );
    assert_eq!(
        store
            .get_code(&h("c-exp"))
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        None
    );
    assert_eq!(store.get_access_token(&h("r2-at")).await.unwrap(), None);

    // Burnt: AlreadyConsumed. Burning again keeps the first time.
    let mut plain = code("c-burn", "fam3", NOW + 60);
    plain.redirect_uri = None;
    plain.nonce = None;
    store.insert_code(&plain).await.unwrap();
    assert_eq!(store.get_code(&h("c-burn")).await.unwrap(), Some(plain));
    store.burn_code(&h("c-burn"), NOW + 2).await.unwrap();
    store.burn_code(&h("c-burn"), NOW + 3).await.unwrap();
    assert_eq!(
        store
            .get_code(&h("c-burn"))
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        Some(NOW + 2)
    );
    assert_eq!(
        store.redeem_code(&h("c-burn"), NOW + 4, &t2).await.unwrap(),
        Redemption::AlreadyConsumed
    );
    assert_eq!(store.get_access_token(&h("r2-at")).await.unwrap(), None);
    // Burning an unknown code is not an error.
    store.burn_code(&h("nope"), NOW).await.unwrap();
    // Burning a redeemed code keeps its redemption time.
    store.burn_code(&h("c1"), NOW + 9).await.unwrap();
    assert_eq!(
        store.get_code(&h("c1")).await.unwrap().unwrap().consumed_at,
        Some(NOW)
    );

    // Redeeming without a refresh token.
    store
        .insert_code(&code("c-norefresh", "fam4", NOW + 60))
        .await
        .unwrap();
    let t3 = issued("r3", "fam4", false);
    assert_eq!(
        store
            .redeem_code(&h("c-norefresh"), NOW, &t3)
            .await
            .unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(
        store.get_access_token(&h("r3-at")).await.unwrap(),
        Some(t3.access)
    );
    assert_eq!(store.get_refresh_token(&h("r3-rt")).await.unwrap(), None);

    // If the tokens cannot be written, the code is not consumed either.
    store
        .insert_code(&code("c-clash", "fam5", NOW + 60))
        .await
        .unwrap();
    assert!(store
        .redeem_code(&h("c-clash"), NOW, &issued("r1", "fam5", true))
        .await
        .is_err());
    assert_eq!(
        store
            .get_code(&h("c-clash"))
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        None
    );
    assert_eq!(
        store
            .get_access_token(&h("r1-at"))
            .await
            .unwrap()
            .unwrap()
            .family_id,
        "fam1"
    );
}

pub async fn refresh_rotation(store: Arc<dyn Store>) {
    let first = issued("g0", "fam", true);
    store
        .insert_code(&code("c", "fam", NOW + 60))
        .await
        .unwrap();
    assert_eq!(
        store.redeem_code(&h("c"), NOW, &first).await.unwrap(),
        Redemption::Redeemed
    );

    // Rotate g0-rt → g1.
    let g1 = issued("g1", "fam", true);
    assert_eq!(
        store
            .rotate_refresh_token(&h("g0-rt"), NOW + 10, &g1)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let old = store.get_refresh_token(&h("g0-rt")).await.unwrap().unwrap();
    assert_eq!(old.used_at, Some(NOW + 10));
    assert!(!old.revoked);
    assert_eq!(
        store.get_refresh_token(&h("g1-rt")).await.unwrap(),
        g1.refresh.clone()
    );
    assert_eq!(
        store.get_access_token(&h("g1-at")).await.unwrap(),
        Some(g1.access.clone())
    );

    // Reusing g0-rt: AlreadyUsed, nothing written.
    let g2 = issued("g2", "fam", true);
    assert_eq!(
        store
            .rotate_refresh_token(&h("g0-rt"), NOW + 11, &g2)
            .await
            .unwrap(),
        Rotation::AlreadyUsed
    );
    assert_eq!(store.get_access_token(&h("g2-at")).await.unwrap(), None);
    assert_eq!(store.get_refresh_token(&h("g2-rt")).await.unwrap(), None);
    assert_eq!(
        store
            .get_refresh_token(&h("g0-rt"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(NOW + 10)
    );

    // Unknown: NotFound.
    assert_eq!(
        store
            .rotate_refresh_token(&h("nope"), NOW, &g2)
            .await
            .unwrap(),
        Rotation::NotFound
    );

    // Expired (expires_at == now counts): NotFound, stays unused.
    store
        .insert_code(&code("c-exp", "fam-exp", NOW + 60))
        .await
        .unwrap();
    let mut short = issued("e0", "fam-exp", true);
    short.refresh.as_mut().unwrap().expires_at = NOW + 100;
    assert_eq!(
        store.redeem_code(&h("c-exp"), NOW, &short).await.unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(
        store
            .rotate_refresh_token(&h("e0-rt"), NOW + 100, &g2)
            .await
            .unwrap(),
        Rotation::NotFound
    );
    assert_eq!(
        store
            .get_refresh_token(&h("e0-rt"))
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    assert_eq!(store.get_access_token(&h("g2-at")).await.unwrap(), None);

    // Revoked: AlreadyUsed.
    store.revoke_family("fam").await.unwrap();
    assert_eq!(
        store
            .rotate_refresh_token(&h("g1-rt"), NOW + 20, &g2)
            .await
            .unwrap(),
        Rotation::AlreadyUsed
    );
    let g1_rt = store.get_refresh_token(&h("g1-rt")).await.unwrap().unwrap();
    assert!(g1_rt.revoked);
    assert_eq!(g1_rt.used_at, None);
    assert_eq!(store.get_access_token(&h("g2-at")).await.unwrap(), None);
    assert_eq!(store.get_refresh_token(&h("g2-rt")).await.unwrap(), None);

    // Rotating to an access token only.
    store
        .insert_code(&code("c-3", "fam3", NOW + 60))
        .await
        .unwrap();
    store
        .redeem_code(&h("c-3"), NOW, &issued("h0", "fam3", true))
        .await
        .unwrap();
    let h1 = issued("h1", "fam3", false);
    assert_eq!(
        store
            .rotate_refresh_token(&h("h0-rt"), NOW + 1, &h1)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store.get_access_token(&h("h1-at")).await.unwrap(),
        Some(h1.access)
    );
}

pub async fn revocation(store: Arc<dyn Store>) {
    for (c, fam, prefix) in [("c-a", "fam-a", "a0"), ("c-b", "fam-b", "b0")] {
        store.insert_code(&code(c, fam, NOW + 60)).await.unwrap();
        assert_eq!(
            store
                .redeem_code(&h(c), NOW, &issued(prefix, fam, true))
                .await
                .unwrap(),
            Redemption::Redeemed
        );
    }
    assert_eq!(
        store
            .rotate_refresh_token(&h("a0-rt"), NOW + 1, &issued("a1", "fam-a", true))
            .await
            .unwrap(),
        Rotation::Rotated
    );

    store.revoke_family("fam-a").await.unwrap();
    for at in ["a0-at", "a1-at"] {
        assert!(
            store
                .get_access_token(&h(at))
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
    }
    for rt in ["a0-rt", "a1-rt"] {
        assert!(
            store
                .get_refresh_token(&h(rt))
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
    }
    // The other family is untouched.
    assert_eq!(
        store.get_access_token(&h("b0-at")).await.unwrap(),
        Some(access("b0-at", "fam-b", NOW + 3600))
    );
    assert_eq!(
        store.get_refresh_token(&h("b0-rt")).await.unwrap(),
        Some(refresh("b0-rt", "fam-b", NOW + 86_400))
    );
    // Revoking again, or an unknown family, is fine.
    store.revoke_family("fam-a").await.unwrap();
    store.revoke_family("no-such-family").await.unwrap();

    // One access token.
    assert!(store.revoke_access_token(&h("b0-at")).await.unwrap());
    assert!(
        store
            .get_access_token(&h("b0-at"))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        !store
            .get_refresh_token(&h("b0-rt"))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(!store.revoke_access_token(&h("nope")).await.unwrap());
}

/// Deleting a user or a client leaves the codes and tokens already issued in place.
pub async fn tokens_outlive_user_and_client(store: Arc<dyn Store>) {
    store.create_client(&client("app", NOW)).await.unwrap();
    store.create_user(&user(42, "+919876543210")).await.unwrap();
    store
        .insert_code(&code("c", "fam", NOW + 60))
        .await
        .unwrap();
    store
        .insert_code(&code("c2", "fam2", NOW + 60))
        .await
        .unwrap();
    let t = issued("t", "fam", true);
    store.redeem_code(&h("c"), NOW, &t).await.unwrap();

    assert!(store.delete_user(42).await.unwrap());
    assert!(store.delete_client("app").await.unwrap());
    assert_eq!(
        store.get_access_token(&h("t-at")).await.unwrap(),
        Some(t.access)
    );
    assert_eq!(
        store.get_refresh_token(&h("t-rt")).await.unwrap(),
        t.refresh
    );
    assert!(store.get_code(&h("c2")).await.unwrap().is_some());
    assert_eq!(store.get_user(42).await.unwrap(), None);
    // Codes may even be redeemed for a user who is gone: the server decides what that means.
    assert_eq!(
        store
            .redeem_code(&h("c2"), NOW, &issued("t2", "fam2", false))
            .await
            .unwrap(),
        Redemption::Redeemed
    );
}

/// The hot paths' combined reads answer what the single reads answer, in every state.
pub async fn snapshot_reads(store: Arc<dyn Store>) {
    // Every column set, so that a combined read that mixed two up would show.
    let mut app = client("app", NOW);
    app.rate_limit = Some(RateLimit {
        per_second: 5,
        burst: 9,
    });
    app.branding = Some(tcauth_core::model::Branding {
        button_color: Some("#123456".to_string()),
        privacy_url: Some("https://app.example/privacy".to_string()),
        ..Default::default()
    });
    let u = full_user(42, "+919876543210");
    // Nothing yet.
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (None, None)
    );
    assert_eq!(
        store
            .get_client_and_refresh_token("app", &h("t-rt"))
            .await
            .unwrap(),
        (None, None)
    );
    assert_eq!(store.get_access_token_view(&h("t-at")).await.unwrap(), None);

    // A code of a user who does not exist yet, for an unknown client.
    store
        .insert_code(&code("c", "fam", NOW + 60))
        .await
        .unwrap();
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (None, Some((code("c", "fam", NOW + 60), None)))
    );
    store.create_client(&app).await.unwrap();
    store.create_user(&u).await.unwrap();
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (
            Some(app.clone()),
            Some((code("c", "fam", NOW + 60), Some(u.clone())))
        )
    );
    // Another client's id finds that client (or none) and the same code.
    assert_eq!(
        store.get_client_and_code("other", &h("c")).await.unwrap(),
        (None, Some((code("c", "fam", NOW + 60), Some(u.clone()))))
    );
    // The code's state is read as it is: consumed after redemption.
    let t = issued("t", "fam", true);
    store.redeem_code(&h("c"), NOW, &t).await.unwrap();
    let (_, found) = store.get_client_and_code("app", &h("c")).await.unwrap();
    assert_eq!(found.unwrap().0.consumed_at, Some(NOW));

    assert_eq!(
        store
            .get_client_and_refresh_token("app", &h("t-rt"))
            .await
            .unwrap(),
        (
            Some(app.clone()),
            Some((t.refresh.clone().unwrap(), Some(u.clone())))
        )
    );
    assert_eq!(
        store.get_access_token_view(&h("t-at")).await.unwrap(),
        Some(AccessTokenView {
            token: t.access.clone(),
            client_exists: true,
            user: Some(u.clone()),
        })
    );
    // Revocation, a blocked user, a deleted user and a deleted client all show.
    store.revoke_family("fam").await.unwrap();
    store
        .set_user_status(42, UserStatus::Blocked)
        .await
        .unwrap();
    let view = store
        .get_access_token_view(&h("t-at"))
        .await
        .unwrap()
        .unwrap();
    assert!(view.token.revoked);
    assert_eq!(view.user.unwrap().status, UserStatus::Blocked);
    let (_, found) = store
        .get_client_and_refresh_token("app", &h("t-rt"))
        .await
        .unwrap();
    assert!(found.unwrap().0.revoked);
    store.delete_user(42).await.unwrap();
    store.delete_client("app").await.unwrap();
    assert_eq!(
        store.get_access_token_view(&h("t-at")).await.unwrap(),
        Some(AccessTokenView {
            token: AccessToken {
                revoked: true,
                ..t.access.clone()
            },
            client_exists: false,
            user: None,
        })
    );
    let (client, found) = store
        .get_client_and_refresh_token("app", &h("t-rt"))
        .await
        .unwrap();
    assert_eq!(client, None);
    assert_eq!(found.unwrap().1, None);
}

pub async fn signing_keys(store: Arc<dyn Store>) {
    assert_eq!(store.list_signing_keys().await.unwrap(), vec![]);

    store.add_signing_key(&key("k1", NOW), 2).await.unwrap();
    let ks = store.list_signing_keys().await.unwrap();
    assert_eq!(
        ks,
        vec![SigningKeyRecord {
            current: true,
            ..key("k1", NOW)
        }]
    );

    // The current flag moves to the new key; the old one stays, published.
    store
        .add_signing_key(&key("k2", NOW + 10), 2)
        .await
        .unwrap();
    let ks = store.list_signing_keys().await.unwrap();
    assert_eq!(
        ks.iter()
            .map(|k| (k.kid.as_str(), k.current))
            .collect::<Vec<_>>(),
        vec![("k2", true), ("k1", false)]
    );
    assert_eq!(ks[1], key("k1", NOW));

    // keep=2 prunes the oldest.
    store
        .add_signing_key(&key("k3", NOW + 20), 2)
        .await
        .unwrap();
    let ks = store.list_signing_keys().await.unwrap();
    assert_eq!(
        ks.iter()
            .map(|k| (k.kid.as_str(), k.current))
            .collect::<Vec<_>>(),
        vec![("k3", true), ("k2", false)]
    );

    // Created in the same second as the current key: the new key still wins and survives.
    store
        .add_signing_key(&key("k4", NOW + 20), 2)
        .await
        .unwrap();
    let ks = store.list_signing_keys().await.unwrap();
    assert_eq!(
        ks.iter()
            .map(|k| (k.kid.as_str(), k.current))
            .collect::<Vec<_>>(),
        vec![("k4", true), ("k3", false)]
    );

    // A kid that exists: Conflict, and nothing changes.
    let before = store.list_signing_keys().await.unwrap();
    assert_conflict(store.add_signing_key(&key("k3", NOW + 25), 2).await, "k3");
    assert_eq!(store.list_signing_keys().await.unwrap(), before);

    // A larger keep keeps more; keep=1 leaves only the new key.
    store
        .add_signing_key(&key("k5", NOW + 30), 3)
        .await
        .unwrap();
    assert_eq!(
        store
            .list_signing_keys()
            .await
            .unwrap()
            .iter()
            .map(|k| k.kid.as_str().to_owned())
            .collect::<Vec<_>>(),
        vec!["k5", "k4", "k3"]
    );
    store
        .add_signing_key(&key("k6", NOW + 40), 1)
        .await
        .unwrap();
    assert_eq!(
        store.list_signing_keys().await.unwrap(),
        vec![SigningKeyRecord {
            current: true,
            ..key("k6", NOW + 40)
        }]
    );
}

pub async fn sweep(store: Arc<dyn Store>) {
    // Expired (expires_at < now): 3 codes, 3 access tokens, 2 refresh tokens.
    // Live (expires_at >= now): one of each, with expires_at == now.
    for i in 0..3 {
        store
            .insert_code(&code(&format!("old-c{i}"), "f", NOW - 1 - i))
            .await
            .unwrap();
    }
    store.insert_code(&code("live-c", "f", NOW)).await.unwrap();
    // Redeeming needs live codes: issue tokens through codes that expire later.
    let mut n = 0;
    let mut issue = |at_exp: i64, rt_exp: Option<i64>| {
        n += 1;
        let mut t = issued(&format!("t{n}"), "f", rt_exp.is_some());
        t.access.expires_at = at_exp;
        if let (Some(r), Some(e)) = (t.refresh.as_mut(), rt_exp) {
            r.expires_at = e;
        }
        (format!("issue-{n}"), t)
    };
    let grants = vec![
        issue(NOW - 10, Some(NOW - 10)),
        issue(NOW - 20, Some(NOW - 5)),
        issue(NOW - 30, None),
        issue(NOW, Some(NOW)),
    ];
    for (c, t) in &grants {
        store.insert_code(&code(c, "f", NOW + 1000)).await.unwrap();
        assert_eq!(
            store.redeem_code(&h(c), NOW - 100, t).await.unwrap(),
            Redemption::Redeemed
        );
    }

    // batch=0 deletes nothing.
    assert_eq!(store.sweep_expired(NOW, 0).await.unwrap(), 0);
    // batch=2: at most 2 per kind → 2 codes + 2 access + 2 refresh.
    assert_eq!(store.sweep_expired(NOW, 2).await.unwrap(), 6);
    // The rest: 1 code + 1 access + 0 refresh.
    assert_eq!(store.sweep_expired(NOW, 2).await.unwrap(), 2);
    assert_eq!(store.sweep_expired(NOW, 100).await.unwrap(), 0);

    for i in 0..3 {
        assert_eq!(
            store.get_code(&h(&format!("old-c{i}"))).await.unwrap(),
            None
        );
    }
    assert!(store.get_code(&h("live-c")).await.unwrap().is_some());
    for (c, t) in &grants {
        assert!(store.get_code(&h(c)).await.unwrap().is_some());
        let live = t.access.expires_at >= NOW;
        assert_eq!(
            store
                .get_access_token(&t.access.hash)
                .await
                .unwrap()
                .is_some(),
            live
        );
        if let Some(r) = &t.refresh {
            assert_eq!(
                store.get_refresh_token(&r.hash).await.unwrap().is_some(),
                r.expires_at >= NOW
            );
        }
    }

    // Later, everything goes: 1 + 4 live-until-later codes, 1 access, 1 refresh.
    assert_eq!(store.sweep_expired(NOW + 2000, 100).await.unwrap(), 7);
    assert_eq!(store.sweep_expired(NOW + 2000, 100).await.unwrap(), 0);
}

/// 100 codes, each redeemed by 20 concurrent tasks: exactly one wins per code.
pub async fn concurrent_code_redemption(store: Arc<dyn Store>) {
    const CODES: usize = 100;
    const RACERS: usize = 20;
    let inserts: Vec<_> = (0..CODES)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_code(&code(&format!("code-{i}"), &format!("fam-{i}"), NOW + 60))
                    .await
            })
        })
        .collect();
    for t in inserts {
        t.await.unwrap().unwrap();
    }

    let barrier = Arc::new(Barrier::new(CODES * RACERS));
    let mut tasks = Vec::with_capacity(CODES * RACERS);
    for i in 0..CODES {
        for j in 0..RACERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let tokens = issued(&format!("tok-{i}-{j}"), &format!("fam-{i}"), true);
                barrier.wait().await;
                let r = store
                    .redeem_code(&h(&format!("code-{i}")), NOW, &tokens)
                    .await
                    .unwrap();
                (i, j, r)
            }));
        }
    }
    let mut winners = vec![None; CODES];
    let (mut redeemed, mut consumed) = (0, 0);
    for t in tasks {
        let (i, j, r) = t.await.unwrap();
        match r {
            Redemption::Redeemed => {
                redeemed += 1;
                assert_eq!(winners[i].replace(j), None, "code {i} redeemed twice");
            }
            Redemption::AlreadyConsumed => consumed += 1,
            Redemption::NotFound => panic!("code {i} not found"),
        }
    }
    assert_eq!(redeemed, 100);
    assert_eq!(consumed, 1900);

    // Only the winners' tokens exist.
    for (i, w) in winners.iter().enumerate() {
        let w = w.unwrap();
        for j in [w, (w + 1) % RACERS] {
            let exists = store
                .get_access_token(&h(&format!("tok-{i}-{j}-at")))
                .await
                .unwrap()
                .is_some();
            assert_eq!(exists, j == w);
            let exists = store
                .get_refresh_token(&h(&format!("tok-{i}-{j}-rt")))
                .await
                .unwrap()
                .is_some();
            assert_eq!(exists, j == w);
        }
    }
}

/// 20 concurrent rotations of one refresh token: exactly one wins.
pub async fn concurrent_refresh_rotation(store: Arc<dyn Store>) {
    const RACERS: usize = 20;
    store
        .insert_code(&code("c", "fam", NOW + 60))
        .await
        .unwrap();
    store
        .redeem_code(&h("c"), NOW, &issued("g0", "fam", true))
        .await
        .unwrap();

    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|j| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let tokens = issued(&format!("g1-{j}"), "fam", true);
                barrier.wait().await;
                let r = store
                    .rotate_refresh_token(&h("g0-rt"), NOW + 1, &tokens)
                    .await
                    .unwrap();
                (j, r)
            })
        })
        .collect();
    let mut rotated = Vec::new();
    let mut used = 0;
    for t in tasks {
        match t.await.unwrap() {
            (j, Rotation::Rotated) => rotated.push(j),
            (_, Rotation::AlreadyUsed) => used += 1,
            (_, Rotation::NotFound) => panic!("token not found"),
        }
    }
    assert_eq!(rotated.len(), 1);
    assert_eq!(used, 19);
    let w = rotated[0];
    for j in 0..RACERS {
        let exists = store
            .get_refresh_token(&h(&format!("g1-{j}-rt")))
            .await
            .unwrap()
            .is_some();
        assert_eq!(exists, j == w);
    }
}

/// Reads and writes from many tasks at once (exercises group commit and the read pool).
pub async fn concurrent_mixed(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..200)
        .map(|i: i64| {
            let store = store.clone();
            tokio::spawn(async move {
                let u = user(1000 + i, &format!("+9190000{i:05}"));
                store.create_user(&u).await.unwrap();
                assert_eq!(store.get_user(u.sub).await.unwrap(), Some(u.clone()));
                // Every fourth one also tries to take its number again under another sub.
                if i % 4 == 3 {
                    let dup = user(5000 + i, &u.phone_e164);
                    assert!(matches!(
                        store.create_user(&dup).await,
                        Err(StoreError::Conflict(_))
                    ));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..200 {
        assert!(store.get_user(1000 + i).await.unwrap().is_some());
        assert_eq!(store.get_user(5000 + i).await.unwrap(), None);
    }
}
