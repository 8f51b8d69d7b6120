//! The conformance story (`conformance/mod.rs`) against SqliteStore, plus what is specific to
//! the SQLite backend: file permissions, migrations, durability across reopening, corrupt data.

use crate::conformance as suite;

use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use tcauth_store::{Redemption, SqliteStore, Store, StoreError};
use tempfile::TempDir;

fn fresh() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("tcauth.db")).unwrap();
    (dir, Arc::new(store))
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let (_dir, store) = fresh();
                suite::$check(store).await;
            }
        )*
    };
}

suite::every_check!(conformance);

// --- SQLite specifics ------------------------------------------------------------------------

#[test]
fn store_is_shareable() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<SqliteStore>();
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

fn user_version(path: &Path) -> i64 {
    raw(path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // The parent directories do not exist yet.
    let path = dir.path().join("data").join("nested").join("tcauth.db");
    let store = SqliteStore::open(&path).unwrap();
    store.ping().await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o077, 0, "data directory is private");

    // migrate creates it the same way.
    let path2 = dir.path().join("other").join("tcauth.db");
    SqliteStore::migrate(&path2).unwrap();
    let mode = std::fs::metadata(&path2).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn migrate_is_versioned_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    let n = SqliteStore::SCHEMA_VERSION;
    assert!(n >= 1);
    assert_eq!(SqliteStore::migrate(&path).unwrap(), (0, n));
    assert_eq!(SqliteStore::migrate(&path).unwrap(), (n, n));
    assert_eq!(user_version(&path), i64::from(n));
    let journal: String = raw(&path)
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");

    // open on a migrated database, then migrate again: nothing to do.
    drop(SqliteStore::open(&path).unwrap());
    assert_eq!(SqliteStore::migrate(&path).unwrap(), (n, n));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    let n = SqliteStore::SCHEMA_VERSION;
    SqliteStore::migrate(&path).unwrap();
    raw(&path)
        .pragma_update(None, "user_version", n + 1)
        .unwrap();

    match SqliteStore::open(&path) {
        Err(StoreError::Internal(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("expected Internal, got {other:?}"),
    }
    assert!(matches!(
        SqliteStore::migrate(&path),
        Err(StoreError::Internal(_))
    ));
    assert_eq!(user_version(&path), i64::from(n + 1), "left untouched");
}

#[test]
fn not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    assert!(SqliteStore::open(&path).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    let tokens = suite::issued("t", "fam", true);
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        store
            .create_client(&suite::client("app", suite::NOW))
            .await
            .unwrap();
        store
            .create_user(&suite::user(7, "+919876543210"))
            .await
            .unwrap();
        store
            .insert_code(&suite::code("c", "fam", suite::NOW + 60))
            .await
            .unwrap();
        assert_eq!(
            store
                .redeem_code(&suite::h("c"), suite::NOW, &tokens)
                .await
                .unwrap(),
            Redemption::Redeemed
        );
        store
            .add_signing_key(&suite::key("k1", suite::NOW), 2)
            .await
            .unwrap();
        // A clone keeps the store alive when the original goes.
        let clone = store.clone();
        drop(store);
        clone.ping().await.unwrap();
    }

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.get_client("app").await.unwrap(),
        Some(suite::client("app", suite::NOW))
    );
    assert_eq!(
        store.get_user(7).await.unwrap(),
        Some(suite::user(7, "+919876543210"))
    );
    assert_eq!(
        store
            .get_code(&suite::h("c"))
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        Some(suite::NOW)
    );
    assert_eq!(
        store.get_access_token(&suite::h("t-at")).await.unwrap(),
        Some(tokens.access.clone())
    );
    assert_eq!(
        store.get_refresh_token(&suite::h("t-rt")).await.unwrap(),
        tokens.refresh.clone()
    );
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 1);
    // Still consumed after reopening.
    assert_eq!(
        store
            .redeem_code(
                &suite::h("c"),
                suite::NOW,
                &suite::issued("u", "fam", false)
            )
            .await
            .unwrap(),
        Redemption::AlreadyConsumed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_rows_are_internal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    let store = SqliteStore::open(&path).unwrap();
    let db = raw(&path);
    db.execute_batch(
        "INSERT INTO clients VALUES ('bad-scope', 'x', '[]', 'openid admin', '[]', NULL, NULL, 1, NULL, 'k-bad-scope', NULL, NULL, NULL, 0, 'live');
         INSERT INTO clients VALUES ('bad-json', 'x', 'not json', 'openid', '[]', NULL, NULL, 2, NULL, 'k-bad-json', NULL, NULL, NULL, 0, 'live');
         INSERT INTO clients VALUES ('bad-grant', 'x', '[]', 'openid', '[\"implicit\"]', NULL, NULL, 3, NULL, 'k-bad-grant', NULL, NULL, NULL, 0, 'live');
         INSERT INTO clients VALUES ('bad-rate', 'x', '[]', 'openid', '[]', -1, 5, 4, NULL, 'k-bad-rate', NULL, NULL, NULL, 0, 'live');
         INSERT INTO clients VALUES ('half-rate', 'x', '[]', 'openid', '[]', 1, NULL, 5, NULL, 'k-half-rate', NULL, NULL, NULL, 0, 'live');
         INSERT INTO clients VALUES ('bad-branding', 'x', '[]', 'openid', '[]', NULL, NULL, 6, '{\"heading\":\"hi\"}', 'k-bad-branding', NULL, NULL, NULL, 0, 'live');
         INSERT INTO users VALUES (1, '+911', 'IN', 1, NULL, NULL, NULL, NULL, NULL, NULL, 'frozen', 1);
         INSERT INTO users VALUES (2, '+912', 'IN', 1, NULL, NULL, NULL, NULL, NULL, '[1,2]', 'active', 1);
         PRAGMA ignore_check_constraints = ON;
         INSERT INTO clients VALUES ('bad-mode', 'x', '[]', 'openid', '[]', NULL, NULL, 7, NULL, 'k-bad-mode', NULL, NULL, NULL, 0, 'staging');
         INSERT INTO access_tokens VALUES (x'0102', 'f', 'c', 1, 'openid', 1, 2, 0);",
    )
    .unwrap();

    for id in [
        "bad-scope",
        "bad-json",
        "bad-grant",
        "bad-rate",
        "half-rate",
        "bad-branding",
        "bad-mode",
    ] {
        assert!(
            matches!(store.get_client(id).await, Err(StoreError::Internal(_))),
            "{id}"
        );
    }
    assert!(matches!(
        store.list_clients().await,
        Err(StoreError::Internal(_))
    ));
    assert!(matches!(
        store.get_user(1).await,
        Err(StoreError::Internal(_))
    ));
    assert!(matches!(
        store.get_user_by_phone("+912").await,
        Err(StoreError::Internal(_))
    ));
    // The sweeper still removes a row it could not read.
    assert_eq!(store.sweep_expired(10, 100).await.unwrap(), 1);
    // The store still works.
    store
        .create_client(&suite::client("good", 1))
        .await
        .unwrap();
    assert!(store.get_client("good").await.unwrap().is_some());
}

/// Another process holding the write lock past the busy timeout: writes answer Unavailable
/// (reads keep working, WAL), and the store recovers once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_database_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create_client(&suite::client("a", 1)).await.unwrap();

    let other = raw(&path);
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(store.get_client("a").await.unwrap().is_some());
    store.ping().await.unwrap();
    match store.create_client(&suite::client("b", 2)).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    other.execute_batch("ROLLBACK").unwrap();

    store.create_client(&suite::client("b", 2)).await.unwrap();
    assert_eq!(store.list_clients().await.unwrap().len(), 2);
}

/// A database of schema version 5 with a client: migration 0006 makes it live, with no test
/// numbers (existing clients and integrations keep working).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_of_a_version_5_database_are_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcauth.db");
    {
        let db = raw(&path);
        for sql in [
            include_str!("../migrations/sqlite/0001_init.sql"),
            include_str!("../migrations/sqlite/0002_otp.sql"),
            include_str!("../migrations/sqlite/0003_client_branding.sql"),
            include_str!("../migrations/sqlite/0004_finished_interactions.sql"),
            include_str!("../migrations/sqlite/0005_mobile_websites.sql"),
        ] {
            db.execute_batch(sql).unwrap();
        }
        db.pragma_update(None, "user_version", 5).unwrap();
        db.execute_batch(
            "INSERT INTO clients VALUES ('old', 'Old', '[\"https://old.example/cb\"]', 'openid', \
             '[\"authorization_code\"]', NULL, NULL, 1, NULL, 'k-old', NULL, NULL, NULL, 1000);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), i64::from(SqliteStore::SCHEMA_VERSION));
    let c = store.get_client("old").await.unwrap().unwrap();
    assert_eq!(c.mode, tcauth_core::model::ClientMode::Live);
    assert!(store.list_test_numbers("old").await.unwrap().is_empty());
}
