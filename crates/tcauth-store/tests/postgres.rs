//! The conformance story (`conformance/mod.rs`) against PgStore, plus what is specific to the
//! PostgreSQL backend: migrations under concurrency, a newer schema, an unreachable server,
//! killed sessions, timeouts, corrupt data.
//!
//! Needs `TCAUTH_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`, a role
//! that may create schemas). Each test works in a fresh schema `tcauth_t_<random hex>`
//! (through `options=-c search_path=…` in the URL) and drops it at the end, also when it
//! fails. Without the variable each test prints a SKIPPED line on stderr and passes — except
//! the ones that need no server.

use crate::conformance as suite;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_store::{PgOptions, PgStore, Redemption, Rotation, Store, StoreError};
use tokio_postgres::NoTls;

/// The test database's URL, or `None` after a loud SKIPPED line (`tcauth_testkit::gate`).
fn database_url(test: &str) -> Option<String> {
    tcauth_testkit::gate::env_or_skip(
        &tcauth_testkit::gate::TEST_DATABASE_URL,
        &format!("the PostgreSQL conformance test {test}"),
    )
}

/// Pool settings for the tests: few connections per test (the tests run in parallel on one
/// server), and a generous wait, since the races queue thousands of calls on them.
fn test_options() -> PgOptions {
    PgOptions {
        max_connections: 8,
        wait_timeout: Duration::from_secs(30),
        ..PgOptions::default()
    }
}

async fn raw_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh schema, dropped (with everything in it) when this goes out of scope.
struct TestSchema {
    base_url: String,
    name: String,
}

impl TestSchema {
    async fn create(test: &str) -> Option<TestSchema> {
        let base_url = database_url(test)?;
        let name = format!("tcauth_t_{}", tcauth_core::secret::new_id());
        raw_connect(&base_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Some(TestSchema { base_url, name })
    }

    /// The URL with the schema as search_path, and `extra` query parameters.
    fn url_with(&self, extra: &str) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-c%20search_path%3D{}{extra}",
            self.base_url, self.name
        )
    }

    fn url(&self) -> String {
        self.url_with("")
    }

    /// A plain connection working in the schema, for looking behind the store's back.
    async fn admin(&self) -> tokio_postgres::Client {
        raw_connect(&self.url()).await
    }

    async fn connect(&self) -> PgStore {
        PgStore::connect(&self.url(), test_options()).await.unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        // A runtime of its own: this may run while the test's runtime is unwinding.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop the test schema {}",
                self.name
            );
        }
    }
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let Some(schema) = TestSchema::create(stringify!($check)).await else {
                    return;
                };
                let store = schema.connect().await;
                suite::$check(Arc::new(store)).await;
            }
        )*
    };
}

suite::every_check!(conformance);

// --- PostgreSQL specifics --------------------------------------------------------------------

#[test]
fn store_is_shareable() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<PgStore>();
    let d = PgOptions::default();
    assert_eq!(d.max_connections, 16);
    assert_eq!(d.connect_timeout, Duration::from_secs(2));
    assert_eq!(d.wait_timeout, Duration::from_secs(2));
    assert_eq!(d.statement_timeout, Duration::from_secs(5));
}

async fn versions(admin: &tokio_postgres::Client) -> Vec<(i32, String)> {
    admin
        .query(
            "SELECT version, name FROM tcauth_schema ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn expected_versions() -> Vec<(i32, String)> {
    [
        "0001_init",
        "0002_otp",
        "0003_client_branding",
        "0004_finished_interactions",
        "0005_mobile_websites",
        "0006_test_mode",
    ]
    .iter()
    .enumerate()
    .map(|(i, name)| (i as i32 + 1, name.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_is_versioned_and_idempotent() {
    let Some(schema) = TestSchema::create("migrate_is_versioned_and_idempotent").await else {
        return;
    };
    let n = PgStore::SCHEMA_VERSION;
    assert_eq!(n as usize, expected_versions().len());
    assert_eq!(PgStore::migrate(&schema.url()).await.unwrap(), (0, n));
    assert_eq!(PgStore::migrate(&schema.url()).await.unwrap(), (n, n));
    let admin = schema.admin().await;
    assert_eq!(versions(&admin).await, expected_versions());
    let tables: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        tables, 12,
        "11 tables and tcauth_schema, all in the test schema"
    );

    // connect on a migrated database, then migrate again: nothing to do.
    schema.connect().await.ping().await.unwrap();
    assert_eq!(PgStore::migrate(&schema.url()).await.unwrap(), (n, n));
    assert_eq!(versions(&admin).await, expected_versions());
}

/// Several nodes starting at once on an empty schema: all start, each migration ran once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_connects_migrate_once() {
    let Some(schema) = TestSchema::create("racing_connects_migrate_once").await else {
        return;
    };
    let url = schema.url();
    let opts = PgOptions {
        max_connections: 2,
        ..test_options()
    };
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let (url, opts) = (url.clone(), opts.clone());
            tokio::spawn(async move { PgStore::connect(&url, opts).await })
        })
        .collect();
    let mut stores = Vec::new();
    for node in nodes {
        stores.push(node.await.unwrap().expect("every node starts"));
    }
    for store in &stores {
        store.ping().await.unwrap();
    }
    // Every node sees the others' writes.
    stores[0]
        .create_client(&suite::client("shared", suite::NOW))
        .await
        .unwrap();
    for store in &stores {
        assert!(store.get_client("shared").await.unwrap().is_some());
    }
    assert_eq!(versions(&schema.admin().await).await, expected_versions());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newer_schema_is_refused() {
    let Some(schema) = TestSchema::create("a_newer_schema_is_refused").await else {
        return;
    };
    let n = PgStore::SCHEMA_VERSION;
    PgStore::migrate(&schema.url()).await.unwrap();
    let admin = schema.admin().await;
    let future = i32::try_from(n + 1).unwrap();
    admin
        .execute(
            "INSERT INTO tcauth_schema (version, name) VALUES ($1, 'from_the_future')",
            &[&future],
        )
        .await
        .unwrap();

    match PgStore::connect(&schema.url(), test_options()).await {
        Err(StoreError::Internal(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("expected Internal, got {other:?}"),
    }
    match PgStore::migrate(&schema.url()).await {
        Err(StoreError::Internal(m)) => assert!(m.contains("upgrade tcauth"), "{m}"),
        other => panic!("expected Internal, got {other:?}"),
    }
    let max: i32 = admin
        .query_one("SELECT max(version) FROM tcauth_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(max, future, "left untouched");
}

/// Three stores (three nodes, each with its own pool) on one database: 50 codes, each
/// presented to every node at once, are redeemed exactly 50 times; one refresh token rotated
/// on every node at once is rotated once; one sign-in finished on every node at once is
/// finished once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_share_single_use() {
    let Some(schema) = TestSchema::create("nodes_share_single_use").await else {
        return;
    };
    let mut nodes: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(schema.connect().await));
    }
    const CODES: usize = 50;
    for i in 0..CODES {
        let name = format!("code-{i}");
        nodes[i % 3]
            .insert_code(&suite::code(&name, &name, suite::NOW + 60))
            .await
            .unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CODES * 3));
    let mut tasks = Vec::new();
    for i in 0..CODES {
        for (n, node) in nodes.iter().enumerate() {
            let (node, barrier) = (node.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let name = format!("code-{i}");
                let tokens = suite::issued(&format!("{name}-n{n}"), &name, true);
                barrier.wait().await;
                node.redeem_code(&suite::h(&name), suite::NOW, &tokens)
                    .await
                    .unwrap()
            }));
        }
    }
    let mut redeemed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Redemption::Redeemed => redeemed += 1,
            Redemption::AlreadyConsumed => {}
            Redemption::NotFound => panic!("a code was not found"),
        }
    }
    assert_eq!(redeemed, CODES);

    // The refresh token of code-0's winner, rotated on every node at once: once.
    let mut winner = None;
    for n in 0..3 {
        let rt = suite::h(&format!("code-0-n{n}-rt"));
        if nodes[0].get_refresh_token(&rt).await.unwrap().is_some() {
            assert_eq!(winner.replace(rt), None, "two winners for code-0");
        }
    }
    let rt = winner.expect("code-0 has a winner");
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let rotations: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let (node, barrier) = (node.clone(), barrier.clone());
            tokio::spawn(async move {
                let next = suite::issued(&format!("next-{n}"), "code-0", true);
                barrier.wait().await;
                node.rotate_refresh_token(&rt, suite::NOW + 1, &next)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for r in rotations {
        outcomes.push(r.await.unwrap());
    }
    outcomes.sort_by_key(|o| *o != Rotation::Rotated);
    assert_eq!(
        outcomes,
        vec![
            Rotation::Rotated,
            Rotation::AlreadyUsed,
            Rotation::AlreadyUsed
        ]
    );

    // One sign-in finished on every node at once (each with a code of its own): once, and
    // only the winner's code exists.
    let key = suite::h("interaction-0");
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let finishes: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let (node, barrier) = (node.clone(), barrier.clone());
            tokio::spawn(async move {
                let code = suite::code(&format!("ix-code-{n}"), "ix", suite::NOW + 60);
                barrier.wait().await;
                node.finish_interaction(&key, suite::NOW + 600, Some(&code))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    for f in finishes {
        won.push(f.await.unwrap());
    }
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    for (n, w) in won.iter().enumerate() {
        let code = suite::h(&format!("ix-code-{n}"));
        assert_eq!(
            nodes[(n + 1) % 3].get_code(&code).await.unwrap().is_some(),
            *w
        );
        assert!(nodes[n].interaction_finished(&key).await.unwrap());
    }
}

/// Needs no server: nothing listens on port 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_fails_fast() {
    let url = "postgres://postgres@127.0.0.1:1/test";
    let started = Instant::now();
    match PgStore::connect(url, PgOptions::default()).await {
        Err(StoreError::Unavailable(m)) => {
            assert!(
                m.contains("cannot connect to PostgreSQL at 127.0.0.1:1/test"),
                "{m}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        PgStore::migrate(url).await,
        Err(StoreError::Unavailable(_))
    ));
}

/// Needs no server: the URL is refused before connecting.
#[tokio::test]
async fn bad_urls_are_refused() {
    for (url, mentions) in [
        (
            "postgres://postgres@127.0.0.1:5432/test?sslmode=require",
            "TLS",
        ),
        (
            "postgres://postgres@127.0.0.1:notaport/test",
            "invalid PostgreSQL URL",
        ),
        (
            "postgres://postgres@127.0.0.1/test?nonsense=1",
            "invalid PostgreSQL URL",
        ),
    ] {
        match PgStore::connect(url, PgOptions::default()).await {
            Err(StoreError::Internal(m)) => assert!(m.contains(mentions), "{url}: {m}"),
            other => panic!("{url}: expected Internal, got {other:?}"),
        }
    }
}

/// The server kills every session of the store: calls answer Unavailable (or succeed), never
/// anything else, and the same store works again without being rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_sessions_are_unavailable_then_recovered() {
    let Some(schema) = TestSchema::create("killed_sessions").await else {
        return;
    };
    // An application_name of its own, so only this test's sessions are killed.
    let app = format!("tcauth_kill_{}", &tcauth_core::secret::new_id()[..12]);
    let opts = PgOptions {
        max_connections: 4,
        ..test_options()
    };
    let store = PgStore::connect(&schema.url_with(&format!("&application_name={app}")), opts)
        .await
        .unwrap();
    store
        .create_client(&suite::client("app", suite::NOW))
        .await
        .unwrap();
    // Open every pooled connection.
    let warm: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.get_client("app").await })
        })
        .collect();
    for w in warm {
        assert!(w.await.unwrap().unwrap().is_some());
    }

    // Four workers redeem codes while the sessions are killed.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acked, mut unavailable) = (Vec::new(), 0);
                for k in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("w{w}-{k}");
                    let tokens = suite::issued(&name, &name, false);
                    let r = match store
                        .insert_code(&suite::code(&name, &name, suite::NOW + 60))
                        .await
                    {
                        Ok(()) => {
                            store
                                .redeem_code(&suite::h(&name), suite::NOW, &tokens)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match r {
                        Ok(Redemption::Redeemed) => acked.push(tokens.access),
                        Ok(other) => panic!("{name}: {other:?}"),
                        Err(StoreError::Unavailable(m)) => {
                            eprintln!("{name}: {m}");
                            unavailable += 1
                        }
                        Err(e) => panic!("{name}: expected Ok or Unavailable, got {e:?}"),
                    }
                }
                (acked, unavailable)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let admin = schema.admin().await;
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                WHERE application_name = $1";
    let killed = admin
        .query(kill, &[&app])
        .await
        .unwrap()
        .iter()
        .filter(|r| r.get::<_, bool>(0))
        .count();
    assert!(killed >= 1, "killed {killed} sessions");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut unavailable) = (Vec::new(), 0);
    for w in workers {
        let (a, u) = w.await.unwrap();
        acked.extend(a);
        unavailable += u;
    }
    eprintln!(
        "killed {killed} sessions under load: {} redemptions acknowledged, {unavailable} \
         calls Unavailable",
        acked.len()
    );
    assert!(
        unavailable <= 4,
        "{unavailable} failures for 4 dead connections"
    );
    // Every acknowledged redemption's token is there.
    for t in &acked {
        assert_eq!(
            store.get_access_token(&t.hash).await.unwrap().as_ref(),
            Some(t)
        );
    }

    // Recovered: concurrent calls all succeed.
    let burst: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.get_client("app").await })
        })
        .collect();
    for b in burst {
        assert!(b.await.unwrap().unwrap().is_some());
    }
    // Writes work again too, and the new sessions are the store's.
    store
        .create_client(&suite::client("after", suite::NOW))
        .await
        .unwrap();
    let live: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert!(live >= 1);
}

/// A statement stuck behind a lock past statement_timeout, and a call that waits past
/// wait_timeout for a free connection, are Unavailable; nothing is written, and the store
/// works once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_are_unavailable() {
    let Some(schema) = TestSchema::create("timeouts_are_unavailable").await else {
        return;
    };
    let app = format!("tcauth_timeouts_{}", &tcauth_core::secret::new_id()[..12]);
    let opts = PgOptions {
        max_connections: 1,
        statement_timeout: Duration::from_millis(1500),
        wait_timeout: Duration::from_millis(200),
        ..PgOptions::default()
    };
    let url = schema.url_with(&format!("&application_name={app}"));
    let store = Arc::new(PgStore::connect(&url, opts).await.unwrap());
    store
        .insert_code(&suite::code("c", "fam", suite::NOW + 60))
        .await
        .unwrap();

    let mut admin = schema.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM auth_codes FOR UPDATE", &[])
        .await
        .unwrap();

    let redeeming = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let tokens = suite::issued("t", "fam", true);
            let r = store.redeem_code(&suite::h("c"), suite::NOW, &tokens).await;
            (r, started.elapsed())
        })
    };
    // Wait until the redemption waits for the row lock.
    let watcher = schema.admin().await;
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE application_name = $1 AND wait_event_type = 'Lock'";
    let deadline = Instant::now() + Duration::from_secs(1);
    while watcher
        .query_one(waiting, &[&app])
        .await
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the redemption never waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The only connection is stuck in the redemption.
    match store.ping().await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("waiting"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let (r, took) = redeeming.await.unwrap();
    match r {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("57014"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(took < Duration::from_secs(3), "{took:?}");
    tx.rollback().await.unwrap();

    let code = store.get_code(&suite::h("c")).await.unwrap().unwrap();
    assert_eq!(
        code.consumed_at, None,
        "the timed-out redemption wrote nothing"
    );
    assert_eq!(
        store.get_access_token(&suite::h("t-at")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .redeem_code(&suite::h("c"), suite::NOW, &suite::issued("t", "fam", true))
            .await
            .unwrap(),
        Redemption::Redeemed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_rows_are_internal_errors() {
    let Some(schema) = TestSchema::create("corrupt_rows_are_internal_errors").await else {
        return;
    };
    let store = schema.connect().await;
    let admin = schema.admin().await;
    admin
        .batch_execute(
            r#"
            INSERT INTO clients VALUES ('bad-scope', 'x', '[]', 'openid admin', '[]', NULL, NULL, 1, NULL, 'k-bad-scope', NULL, NULL, NULL, 0);
            INSERT INTO clients VALUES ('bad-json', 'x', '"not a list"', 'openid', '[]', NULL, NULL, 2, NULL, 'k-bad-json', NULL, NULL, NULL, 0);
            INSERT INTO clients VALUES ('bad-grant', 'x', '[]', 'openid', '["implicit"]', NULL, NULL, 3, NULL, 'k-bad-grant', NULL, NULL, NULL, 0);
            INSERT INTO clients VALUES ('bad-rate', 'x', '[]', 'openid', '[]', -1, 5, 4, NULL, 'k-bad-rate', NULL, NULL, NULL, 0);
            INSERT INTO clients VALUES ('half-rate', 'x', '[]', 'openid', '[]', 1, NULL, 5, NULL, 'k-half-rate', NULL, NULL, NULL, 0);
            INSERT INTO clients VALUES ('bad-branding', 'x', '[]', 'openid', '[]', NULL, NULL, 6, '{"heading":"hi"}', 'k-bad-branding', NULL, NULL, NULL, 0);
            INSERT INTO users VALUES (1, '+911', 'IN', TRUE, NULL, NULL, NULL, NULL, NULL, NULL, 'frozen', 1);
            INSERT INTO users VALUES (2, '+912', 'IN', TRUE, NULL, NULL, NULL, NULL, NULL, '[1,2]', 'active', 1);
            ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_hash_check;
            INSERT INTO access_tokens VALUES ('\x0102', 'f', 'c', 1, 'openid', 1, 2, FALSE);
            "#,
        )
        .await
        .unwrap();

    for id in [
        "bad-scope",
        "bad-json",
        "bad-grant",
        "bad-rate",
        "half-rate",
        "bad-branding",
    ] {
        match store.get_client(id).await {
            Err(StoreError::Internal(m)) => assert!(m.contains("corrupt"), "{id}: {m}"),
            other => panic!("{id}: expected Internal, got {other:?}"),
        }
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
