//! Conformance checks for CONTRACT.md §7's newer client fields and §9's Mobile Websites
//! outbox: `update_client`, `get_client_by_app_key`, `clients_revision`, `claim_once`,
//! `finish_web_interaction` and the delivery methods.

use super::{access, client, h, NOW};
use std::collections::HashSet;
use std::sync::Arc;
use tcauth_core::model::{AttemptOutcome, CallbackDelivery, DeliveryStatus, RateLimit};
use tcauth_store::{Store, StoreError};
use tokio::sync::Barrier;

const MS: i64 = NOW * 1000;

fn delivery(id: &str, client_id: &str, due_ms: i64) -> CallbackDelivery {
    CallbackDelivery {
        id: id.to_string(),
        client_id: client_id.to_string(),
        request_id: format!("nonce-{id}"),
        url: "https://app.example/truecaller".to_string(),
        body_sealed: vec![1, 2, 3, id.len() as u8],
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at_ms: due_ms,
        expires_at: NOW + 600,
        created_at: NOW,
        delivered_at: None,
    }
}

pub async fn client_updates_and_app_keys(store: Arc<dyn Store>) {
    let rev0 = store.clients_revision().await.unwrap();
    assert_eq!(rev0, (0, 0));
    let mut a = client("a", NOW);
    a.callback_url = Some("https://a.example/cb".into());
    a.callback_salt = Some("salt-1".into());
    a.package_name = Some("com.example.a".into());
    store.create_client(&a).await.unwrap();
    store.create_client(&client("b", NOW)).await.unwrap();
    assert_eq!(store.get_client("a").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.get_client_by_app_key("key-a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get_client_by_app_key("key-zz").await.unwrap(), None);
    let rev1 = store.clients_revision().await.unwrap();
    assert_eq!(rev1, (2, MS));

    // A second client with a taken app key is a conflict; nothing is written.
    let mut dup = client("c", NOW);
    dup.app_key = "key-a".into();
    assert!(matches!(
        store.create_client(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_client("c").await.unwrap(), None);

    // Every field but id, app key and creation time is replaced.
    let mut changed = a.clone();
    changed.name = "Renamed".into();
    changed.redirect_uris = vec!["https://new.example/cb".into()];
    changed.rate_limit = Some(RateLimit {
        per_second: 5,
        burst: 9,
    });
    changed.callback_url = None;
    changed.callback_salt = None;
    changed.package_name = Some("com.example.renamed".into());
    changed.updated_at_ms = MS + 1;
    let mut attempt = changed.clone();
    attempt.app_key = "key-other".into();
    attempt.created_at = NOW + 99;
    assert!(store.update_client(&attempt).await.unwrap());
    assert_eq!(store.get_client("a").await.unwrap(), Some(changed.clone()));
    assert_eq!(
        store.get_client_by_app_key("key-a").await.unwrap(),
        Some(changed)
    );
    assert_eq!(store.clients_revision().await.unwrap(), (2, MS + 1));
    assert!(!store.update_client(&client("nope", NOW)).await.unwrap());

    // A delete changes the revision too.
    assert!(store.delete_client("b").await.unwrap());
    assert_eq!(store.clients_revision().await.unwrap(), (1, MS + 1));
}

pub async fn request_nonces(store: Arc<dyn Store>) {
    let k = h("nonce-key");
    assert!(store.claim_once(&k, NOW + 60).await.unwrap());
    assert!(!store.claim_once(&k, NOW + 60).await.unwrap());
    assert!(store.claim_once(&h("other"), NOW + 60).await.unwrap());
    // Swept once expired; then it could be claimed again.
    store.sweep_expired(NOW + 61, 100).await.unwrap();
    assert!(store.claim_once(&k, NOW + 120).await.unwrap());

    // Of many concurrent claims of one key, exactly one wins.
    let n = 16;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.claim_once(&h("raced"), NOW + 60).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn deliveries_outbox(store: Arc<dyn Store>) {
    let t = access("web-token", "web-family", NOW + 600);
    let d1 = delivery("d1", "app", MS);
    assert!(store
        .finish_web_interaction(&h("ix-1"), NOW + 900, Some(&t), &d1)
        .await
        .unwrap());
    assert_eq!(
        store.get_access_token(&t.hash).await.unwrap(),
        Some(t.clone())
    );
    assert!(store.interaction_finished(&h("ix-1")).await.unwrap());
    // The same interaction again: nothing written.
    let again = delivery("d1-again", "app", MS);
    assert!(!store
        .finish_web_interaction(&h("ix-1"), NOW + 900, None, &again)
        .await
        .unwrap());
    // A reject: no token, a delivery.
    let d2 = delivery("d2", "app", MS + 10);
    assert!(store
        .finish_web_interaction(&h("ix-2"), NOW + 900, None, &d2)
        .await
        .unwrap());
    let d3 = delivery("d3", "other", MS + 5_000);
    assert!(store
        .finish_web_interaction(&h("ix-3"), NOW + 900, None, &d3)
        .await
        .unwrap());
    assert_eq!(store.count_pending_deliveries().await.unwrap(), 3);

    // Claims: due ones only, oldest first, each leased once until the lease runs out.
    let got = store
        .claim_deliveries(MS + 100, MS + 30_100, 10)
        .await
        .unwrap();
    assert_eq!(got, vec![d1.clone(), d2.clone()]);
    assert!(store
        .claim_deliveries(MS + 200, MS + 30_200, 10)
        .await
        .unwrap()
        .is_empty());
    // The limit holds; d3 comes due later.
    let later = store
        .claim_deliveries(MS + 30_100, MS + 60_000, 1)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].id, "d1");

    // A failed attempt releases the lease and reschedules.
    assert!(store
        .record_delivery_attempt(
            "d1",
            &AttemptOutcome::Retry {
                error: "connection refused".into(),
                next_attempt_at_ms: MS + 40_000,
            },
        )
        .await
        .unwrap());
    assert!(store
        .record_delivery_attempt("d2", &AttemptOutcome::Delivered { at: NOW + 1 })
        .await
        .unwrap());
    // A delivered one takes no more attempts.
    assert!(!store
        .record_delivery_attempt("d2", &AttemptOutcome::Failed { error: "x".into() })
        .await
        .unwrap());
    assert!(!store
        .record_delivery_attempt("nope", &AttemptOutcome::Delivered { at: NOW })
        .await
        .unwrap());
    let due = store
        .claim_deliveries(MS + 40_000, MS + 70_000, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["d3", "d1"]);
    assert!(store
        .record_delivery_attempt(
            "d3",
            &AttemptOutcome::Failed {
                error: "refused: 169.254.169.254 is link-local".into()
            },
        )
        .await
        .unwrap());

    // The log: newest first (same created_at: by id, descending), per client.
    let log = store.list_deliveries("app", 10).await.unwrap();
    let summary: Vec<_> = log
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                d.status,
                d.attempts,
                d.last_error.as_deref(),
                d.delivered_at,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("d2", DeliveryStatus::Delivered, 1, None, Some(NOW + 1)),
            (
                "d1",
                DeliveryStatus::Pending,
                1,
                Some("connection refused"),
                None
            ),
        ]
    );
    assert_eq!(log[1].next_attempt_at_ms, MS + 40_000);
    assert_eq!(log[1].body_sealed, d1.body_sealed);
    assert_eq!(store.list_deliveries("app", 1).await.unwrap().len(), 1);
    let other = store.list_deliveries("other", 10).await.unwrap();
    assert_eq!(other[0].status, DeliveryStatus::Failed);
    assert_eq!(store.count_pending_deliveries().await.unwrap(), 1);

    // Kept for the log a day past expiry, then swept.
    store.sweep_expired(NOW + 600 + 86_400, 100).await.unwrap();
    assert_eq!(store.list_deliveries("app", 10).await.unwrap().len(), 2);
    store.sweep_expired(NOW + 600 + 86_401, 100).await.unwrap();
    assert!(store.list_deliveries("app", 10).await.unwrap().is_empty());
    assert!(store.list_deliveries("other", 10).await.unwrap().is_empty());
}

pub async fn web_finish_all_or_nothing(store: Arc<dyn Store>) {
    // A token whose hash is taken cannot go in: neither the key nor the delivery is written.
    let t = access("taken", "f", NOW + 600);
    store
        .finish_web_interaction(&h("ix-a"), NOW + 900, Some(&t), &delivery("da", "app", MS))
        .await
        .unwrap();
    let r = store
        .finish_web_interaction(&h("ix-b"), NOW + 900, Some(&t), &delivery("db", "app", MS))
        .await;
    assert!(r.is_err(), "{r:?}");
    assert!(!store.interaction_finished(&h("ix-b")).await.unwrap());
    let ids: Vec<String> = store
        .list_deliveries("app", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["da"]);
    // A delivery id that is taken: the same.
    let r = store
        .finish_web_interaction(&h("ix-c"), NOW + 900, None, &delivery("da", "app", MS))
        .await;
    assert!(r.is_err(), "{r:?}");
    assert!(!store.interaction_finished(&h("ix-c")).await.unwrap());
}

pub async fn concurrent_delivery_claims(store: Arc<dyn Store>) {
    let n = 40;
    for i in 0..n {
        let d = delivery(&format!("c{i:02}"), "app", MS + i);
        store
            .finish_web_interaction(&h(&format!("cix{i}")), NOW + 900, None, &d)
            .await
            .unwrap();
    }
    // Eight claimers at once, as eight nodes would: every delivery leased exactly once.
    let claimers = 8;
    let barrier = Arc::new(Barrier::new(claimers));
    let mut tasks = Vec::new();
    for _ in 0..claimers {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_deliveries(MS + 1_000, MS + 60_000, 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(total, n as usize);
}
