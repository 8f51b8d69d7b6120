//! Conformance check for authorization codes: insert, read, burn, redeem.

use super::{code, h, issued, NOW};
use std::sync::Arc;
use tcauth_core::model::AuthCode;
use tcauth_store::{Redemption, Store, StoreError};

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
