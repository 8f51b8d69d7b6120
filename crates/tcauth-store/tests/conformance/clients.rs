//! Conformance check for clients: create, read, list, delete.

use super::{assert_conflict, client, NOW};
use std::sync::Arc;
use tcauth_core::model::{GrantType, RateLimit};
use tcauth_store::Store;

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
