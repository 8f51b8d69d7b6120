//! Conformance checks for finished sign-ins (`Store::finish_interaction`).

use super::{code, h, NOW};
use std::sync::Arc;
use tcauth_store::Store;
use tokio::sync::Barrier;

pub async fn finished_interactions(store: Arc<dyn Store>) {
    let deny = h("ix-deny");
    assert!(!store.interaction_finished(&deny).await.unwrap());
    // A Deny: finished, no code.
    assert!(store
        .finish_interaction(&deny, NOW + 600, None)
        .await
        .unwrap());
    assert!(store.interaction_finished(&deny).await.unwrap());
    // Finishing it again, with or without a code, writes nothing.
    assert!(!store
        .finish_interaction(&deny, NOW + 600, None)
        .await
        .unwrap());
    let late = code("c-late", "f-late", NOW + 60);
    assert!(!store
        .finish_interaction(&deny, NOW + 600, Some(&late))
        .await
        .unwrap());
    assert_eq!(store.get_code(&late.hash).await.unwrap(), None);

    // An Allow: the key and the code together.
    let allow = h("ix-allow");
    let c = code("c-allow", "f-allow", NOW + 60);
    assert!(store
        .finish_interaction(&allow, NOW + 600, Some(&c))
        .await
        .unwrap());
    assert!(store.interaction_finished(&allow).await.unwrap());
    assert_eq!(store.get_code(&c.hash).await.unwrap(), Some(c.clone()));
    let again = code("c-again", "f-again", NOW + 60);
    assert!(!store
        .finish_interaction(&allow, NOW + 600, Some(&again))
        .await
        .unwrap());
    assert_eq!(store.get_code(&again.hash).await.unwrap(), None);
    assert!(!store
        .finish_interaction(&allow, NOW + 600, None)
        .await
        .unwrap());

    // A code that cannot go in (its key is taken) leaves the interaction unfinished, so the
    // same interaction can still finish.
    let failed = h("ix-failed");
    assert!(store
        .finish_interaction(&failed, NOW + 600, Some(&c))
        .await
        .is_err());
    assert!(!store.interaction_finished(&failed).await.unwrap());
    let retry = code("c-retry", "f-retry", NOW + 60);
    assert!(store
        .finish_interaction(&failed, NOW + 600, Some(&retry))
        .await
        .unwrap());
    assert!(store.get_code(&retry.hash).await.unwrap().is_some());

    // Past its expiry and not yet swept, a key still counts as finished.
    let old = h("ix-old");
    assert!(store.finish_interaction(&old, NOW - 1, None).await.unwrap());
    assert!(!store.finish_interaction(&old, NOW - 1, None).await.unwrap());
    assert!(store.interaction_finished(&old).await.unwrap());
    // The sweeper deletes keys whose expiry is before `now`, and only those.
    assert_eq!(store.sweep_expired(NOW, 100).await.unwrap(), 1);
    assert!(!store.interaction_finished(&old).await.unwrap());
    for k in [&deny, &allow, &failed] {
        assert!(store.interaction_finished(k).await.unwrap());
    }
    // Later: the three keys and the two codes.
    assert_eq!(store.sweep_expired(NOW + 601, 100).await.unwrap(), 5);
    for k in [&deny, &allow, &failed] {
        assert!(!store.interaction_finished(k).await.unwrap());
    }
    assert_eq!(store.sweep_expired(NOW + 601, 100).await.unwrap(), 0);
}

/// 20 interactions, each finished by 10 concurrent calls (half Allow with a code of their own,
/// half Deny): exactly one wins per interaction, and only a winning Allow's code exists.
pub async fn concurrent_interaction_finish(store: Arc<dyn Store>) {
    const INTERACTIONS: usize = 20;
    const RACERS: usize = 10;
    let barrier = Arc::new(Barrier::new(INTERACTIONS * RACERS));
    let mut tasks = Vec::with_capacity(INTERACTIONS * RACERS);
    for i in 0..INTERACTIONS {
        for j in 0..RACERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let c = (j % 2 == 0).then(|| code(&format!("c-{i}-{j}"), "f", NOW + 60));
                barrier.wait().await;
                let won = store
                    .finish_interaction(&h(&format!("ix-{i}")), NOW + 600, c.as_ref())
                    .await
                    .unwrap();
                (i, j, won)
            }));
        }
    }
    let mut winners = [None; INTERACTIONS];
    for t in tasks {
        let (i, j, won) = t.await.unwrap();
        if won {
            assert_eq!(
                winners[i].replace(j),
                None,
                "interaction {i} finished twice"
            );
        }
    }
    for (i, w) in winners.iter().enumerate() {
        let w = w.unwrap_or_else(|| panic!("interaction {i} never finished"));
        assert!(store
            .interaction_finished(&h(&format!("ix-{i}")))
            .await
            .unwrap());
        for j in (0..RACERS).step_by(2) {
            let exists = store
                .get_code(&h(&format!("c-{i}-{j}")))
                .await
                .unwrap()
                .is_some();
            assert_eq!(exists, j == w, "code of racer {j} for interaction {i}");
        }
    }
}
