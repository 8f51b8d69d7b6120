//! Conformance check for signing keys: the current key, and pruning to `keep`.

use super::{assert_conflict, key, NOW};
use std::sync::Arc;
use tcauth_core::model::SigningKeyRecord;
use tcauth_store::Store;

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
