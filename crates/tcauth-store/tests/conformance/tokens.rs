//! Conformance checks for access and refresh tokens: rotation, revocation, and tokens that
//! outlive their user and client.

use super::{access, client, code, h, issued, refresh, user, NOW};
use std::sync::Arc;
use tcauth_store::{Redemption, Rotation, Store};

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
