//! Conformance check for the sweeper (`sweep_expired`) on codes and tokens.

use super::{code, h, issued, NOW};
use std::sync::Arc;
use tcauth_store::{Redemption, Store};

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
