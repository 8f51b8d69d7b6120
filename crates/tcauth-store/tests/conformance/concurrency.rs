//! Conformance checks under concurrency: racing redemptions and rotations (exactly one wins),
//! and many reads and writes at once.

use super::{code, h, issued, user, NOW};
use std::sync::Arc;
use tcauth_store::{Redemption, Rotation, Store, StoreError};
use tokio::sync::Barrier;

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
