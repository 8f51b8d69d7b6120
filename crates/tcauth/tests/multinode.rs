//! Three real `tcauth serve` processes on one PostgreSQL and one Redis (CONTRACT.md §1, issue 4):
//! - 200 codes, each presented to all three nodes at once → exactly 200 successes;
//! - one client's rate limit holds for the cluster as a whole;
//! - PostgreSQL cut mid-load (a TCP proxy in this test stands between the nodes and the
//!   database) → only 503s while it is down, 200s again after, no restart, and every token
//!   acknowledged before the cut still valid;
//! - 90 Mobile Websites callbacks due at once in the one outbox, three nodes delivering → every
//!   delivery received exactly once (this test needs only the database).
//!
//! Needs `TCAUTH_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`) and
//! `TCAUTH_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`); `.ci/run` sets both. Without them
//! each test says SKIPPED on stderr and passes.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_testkit::gate;
use tcauth_testkit::ports::free_port;
use tcauth_testkit::proxy::{target_of, Proxy};
use tcauth_testkit::psql::psql;
use tcauth_testkit::ready;

const BIN: &str = env!("CARGO_BIN_EXE_tcauth");
const ADMIN: &str = "multinode-admin-token-0123456789";
const SECRET: &str = "bXVsdGlub2RlLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=";

/// The test database's and the test Redis's URLs, or `None` after a loud SKIPPED line.
fn env_urls(test: &str) -> Option<(String, String)> {
    let urls = gate::all_or_skip(
        &[&gate::TEST_DATABASE_URL, &gate::TEST_REDIS_URL],
        &format!("the multi-node test {test}"),
    )?;
    let [db, redis] = <[String; 2]>::try_from(urls).unwrap();
    Some((db, redis))
}

/// A fresh schema in the test database, dropped at the end.
struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    fn create(db_url: &str) -> Schema {
        let name = format!("tcauth_mn_{}", tcauth_core::secret::new_id());
        psql(db_url, &format!("CREATE SCHEMA {name}"));
        Schema {
            admin_url: db_url.to_string(),
            name,
        }
    }

    /// `db_url` with its host and port replaced by `addr`, and `search_path` set to the schema.
    fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let rest = self.admin_url.split_once("://").unwrap().1;
        let (userinfo, after_at) = rest.rsplit_once('@').unwrap_or(("", rest));
        let path = after_at.find('/').map(|i| &after_at[i..]).unwrap_or("/");
        let path = path.split('?').next().unwrap();
        let user = if userinfo.is_empty() {
            String::new()
        } else {
            format!("{userinfo}@")
        };
        format!(
            "postgres://{user}{addr}{path}?options=-c%20search_path%3D{}",
            self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration every node of a cluster reads. Written once, before any node starts: a
/// node that read it while the next node's start rewrote it could see an empty file, and run
/// with the default limits (a flaky 429 in the redemption test).
fn write_config(dir: &Path) -> PathBuf {
    let config = dir.join("tcauth.toml");
    std::fs::write(
        &config,
        "reload_interval = 1\n[rate_limit]\nper_second = 100000\nburst = 100000\n",
    )
    .unwrap();
    config
}

/// A `tcauth serve` on `db_url`, with Redis when `redis_url` is given.
fn start_node(dir: &Path, config: &Path, db_url: &str, redis_url: Option<&str>, i: usize) -> Node {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("node{i}.log"))).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env_clear()
        .env("TCAUTH_DATABASE_URL", db_url);
    if let Some(r) = redis_url {
        cmd.env("TCAUTH_REDIS_URL", r);
    }
    let child = cmd
        .env("TCAUTH_SECRET", SECRET)
        .env("TCAUTH_ADMIN_TOKEN", ADMIN)
        .env("TCAUTH_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_ready(http: &reqwest::Client, node: &Node, within: Duration) {
    ready::wait_ready(http, &format!("{}/readyz", node.base), within).await;
}

struct Cluster {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
    http: reqwest::Client,
    proxy: Proxy,
    _schema: Schema,
}

async fn cluster(db: &str, redis: &str) -> Cluster {
    let schema = Schema::create(db);
    let proxy = Proxy::start(target_of(db, 5432)).await;
    let url = schema.url_via(proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let config = write_config(dir.path());
    let nodes: Vec<Node> = (0..3)
        .map(|i| start_node(dir.path(), &config, &url, Some(redis), i))
        .collect();
    for n in &nodes {
        wait_ready(&http, n, Duration::from_secs(30)).await;
    }
    Cluster {
        _dir: dir,
        nodes,
        http,
        proxy,
        _schema: schema,
    }
}

impl Cluster {
    async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.nodes[0].base))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{path}");
        r.json().await.unwrap()
    }

    async fn client(&self, rate_limit: Option<(u32, u32)>) -> String {
        let mut body = json!({"name":"mn","redirect_uris":["https://mn.example/cb"],
            "scopes":["openid","phone"],"grant_types":["authorization_code"]});
        if let Some((per_second, burst)) = rate_limit {
            body["rate_limit"] = json!({"per_second": per_second, "burst": burst});
        }
        self.admin("/admin/v1/clients", body).await["client_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn user(&self) -> String {
        let phone = format!("+9198{:08}", rand_u32() % 100_000_000);
        self.admin("/admin/v1/users", json!({ "phone_number": phone }))
            .await["sub"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A code and its verifier.
    async fn code(&self, client: &str, sub: &str) -> (String, String) {
        let verifier = tcauth_core::secret::new_id() + &tcauth_core::secret::new_id();
        let v = self
            .admin(
                "/admin/v1/authorizations",
                json!({"client_id":client,"sub":sub,"scopes":["openid","phone"],
                    "code_challenge":tcauth_core::pkce::s256_challenge(&verifier),
                    "code_challenge_method":"S256"}),
            )
            .await;
        (v["code"].as_str().unwrap().to_string(), verifier)
    }

    async fn exchange(
        &self,
        node: usize,
        client: &str,
        code: &str,
        verifier: &str,
    ) -> (u16, Value, Option<String>) {
        let r = self
            .http
            .post(format!("{}/v1/token", self.nodes[node].base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (status, r.json().await.unwrap_or(Value::Null), retry)
    }
}

fn rand_u32() -> u32 {
    u32::from_le_bytes(tcauth_core::secret::random_bytes::<4>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_code_redeems_once_across_three_nodes() {
    let Some((db, redis)) = env_urls("each_code_redeems_once_across_three_nodes") else {
        return;
    };
    let c = Arc::new(cluster(&db, &redis).await);
    let client = c.client(None).await;
    let sub = c.user().await;
    let mut codes = Vec::new();
    for _ in 0..200 {
        codes.push(c.code(&client, &sub).await);
    }
    // Every code goes to all three nodes at once.
    let mut tasks = Vec::new();
    for (code, verifier) in codes {
        for node in 0..3 {
            let (c, client, code, verifier) =
                (c.clone(), client.clone(), code.clone(), verifier.clone());
            tasks.push(tokio::spawn(async move {
                c.exchange(node, &client, &code, &verifier).await
            }));
        }
    }
    let (mut ok, mut replayed) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (200, _, _) => ok += 1,
            (403, body, _) => {
                assert_eq!(
                    body,
                    json!({"error":"invalid_grant","error_description":"Invalid authorization code"})
                );
                replayed += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    eprintln!("multi-node: 200 codes × 3 nodes → {ok} successes, {replayed} replays refused");
    assert_eq!((ok, replayed), (200, 400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_clients_rate_limit_holds_across_the_cluster() {
    let Some((db, redis)) = env_urls("one_clients_rate_limit_holds_across_the_cluster") else {
        return;
    };
    let c = Arc::new(cluster(&db, &redis).await);
    let (per_second, burst) = (20u32, 40u32);
    let client = c.client(Some((per_second, burst))).await;
    // Nodes 1 and 2 learn the client's own limit within reload_interval (1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let started = Instant::now();
    let run_for = Duration::from_secs(3);
    let mut tasks = Vec::new();
    for w in 0..6usize {
        let (c, client) = (c.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let (mut admitted, mut limited) = (0u32, 0u32);
            let mut i = w;
            while started.elapsed() < run_for {
                // A well-formed request with a code that does not exist: admitted → 403.
                let (status, _, retry) = c
                    .exchange(i % 3, &client, "no-such-code", &"v".repeat(43))
                    .await;
                match status {
                    403 => admitted += 1,
                    429 => {
                        assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
                        limited += 1;
                    }
                    s => panic!("unexpected status {s}"),
                }
                i += 1;
            }
            (admitted, limited)
        }));
    }
    let (mut admitted, mut limited) = (0, 0);
    for t in tasks {
        let (a, l) = t.await.unwrap();
        admitted += a;
        limited += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = burst as f64 + per_second as f64 * elapsed;
    eprintln!(
        "multi-node rate limit: {admitted} admitted, {limited} limited in {elapsed:.2} s; \
         one bucket allows {allowed:.0}"
    );
    assert!(limited > 0, "the limit was reached");
    assert!(
        (admitted as f64 - allowed).abs() <= allowed * 0.10,
        "admitted {admitted}, one bucket allows {allowed:.0} (±10 %)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_the_cluster_recovers_without_restart() {
    let Some((db, redis)) = env_urls("a_database_outage_answers_503") else {
        return;
    };
    let c = cluster(&db, &redis).await;
    let client = c.client(None).await;
    let sub = c.user().await;
    let mut codes = Vec::new();
    for _ in 0..90 {
        codes.push(c.code(&client, &sub).await);
    }
    let during: Vec<_> = codes.split_off(60);
    let after: Vec<_> = codes.split_off(30);

    // Before the cut: 30 acknowledged exchanges.
    let mut acked = Vec::new();
    for (i, (code, verifier)) in codes.iter().enumerate() {
        let (status, body, _) = c.exchange(i % 3, &client, code, verifier).await;
        assert_eq!(status, 200, "{body}");
        acked.push(body["access_token"].as_str().unwrap().to_string());
    }

    c.proxy.cut();
    let mut unavailable = 0;
    for (i, (code, verifier)) in during.iter().enumerate() {
        let t = Instant::now();
        let (status, body, retry) = c.exchange(i % 3, &client, code, verifier).await;
        assert_eq!(
            (status, &body),
            (503, &json!({"error":"temporarily_unavailable"})),
            "while the database is down"
        );
        assert!(retry.is_some(), "Retry-After on 503");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "answered within the store timeout"
        );
        unavailable += 1;
    }
    for n in &c.nodes {
        let r = c
            .http
            .get(format!("{}/readyz", n.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "readyz while the database is down");
        let r = c
            .http
            .get(format!("{}/healthz", n.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "healthz while the database is down");
    }

    c.proxy.restore();
    for n in &c.nodes {
        wait_ready(&c.http, n, Duration::from_secs(30)).await;
    }
    // The codes tried during the outage were never redeemed: they work now, as do fresh ones.
    for (i, (code, verifier)) in during.iter().chain(after.iter()).enumerate() {
        let (status, body, _) = c.exchange(i % 3, &client, code, verifier).await;
        assert_eq!(status, 200, "after the database came back: {body}");
    }
    // Every token acknowledged before the cut is still valid, on every node.
    for (i, token) in acked.iter().enumerate() {
        let r = c
            .http
            .get(format!("{}/v1/userinfo", c.nodes[i % 3].base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "token acknowledged before the outage");
    }
    eprintln!(
        "outage: {} acknowledged before, {unavailable} answered 503 during, {} redeemed after",
        acked.len(),
        during.len() + after.len()
    );
}

/// A node with the outbox helpers' secret and fast callback settings, without Redis.
fn start_callback_node(dir: &Path, config: &Path, db_url: &str, i: usize) -> Node {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("cb-node{i}.log"))).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env_clear()
        .env("TCAUTH_DATABASE_URL", db_url)
        .env("TCAUTH_SECRET", crate::outbox::SECRET_TEXT)
        .env("TCAUTH_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// This node's count of attempts with `result`, from `/metrics`.
async fn attempts_metric(http: &reqwest::Client, node: &Node, result: &str) -> u64 {
    let text = http
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("tcauth_callback_attempts_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_deliver_each_queued_callback_exactly_once() {
    use crate::outbox::{all_delivered, client_with_callback, queue_due, wait_log, FAST};
    use std::collections::HashMap;
    use tcauth_store::{PgOptions, PgStore};
    use tcauth_testkit::receiver::Receiver;

    // More than one node's batch (`worker::CONCURRENCY`, 32), due at once.
    const N: usize = 90;
    let Some(db) = gate::env_or_skip(
        &gate::TEST_DATABASE_URL,
        "the multi-node callback test three_nodes_deliver_each_queued_callback_exactly_once",
    ) else {
        return;
    };
    let schema = Schema::create(&db);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&target_of(&db, 5432))
        .unwrap()
        .next()
        .unwrap();
    let url = schema.url_via(addr);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tcauth.toml");
    std::fs::write(&config, FAST).unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let nodes: Vec<Node> = (0..3)
        .map(|i| start_callback_node(dir.path(), &config, &url, i))
        .collect();
    for n in &nodes {
        wait_ready(&http, n, Duration::from_secs(30)).await;
    }
    let rx = Receiver::start(vec![]).await;
    let store = PgStore::connect(&url, PgOptions::default()).await.unwrap();
    let client = client_with_callback(&store, &rx.url("/cb")).await;
    // All due at one instant, so that the three nodes race for the same rows.
    let due_ms = tcauth_server::now_ms() as i64 + 1_500;
    let mut queued = Vec::new();
    for i in 0..N {
        let nonce = format!("nonce-mn-{i:04}");
        queued.push(queue_due(&store, &client, &nonce, due_ms).await.id);
    }
    let wait = due_ms - tcauth_server::now_ms() as i64;
    assert!(wait > 0, "queueing took more than 1.5 s");
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let t = Instant::now();
    let log = wait_log(&store, &client.client_id, Duration::from_secs(30), |l| {
        l.len() == N && all_delivered(l)
    })
    .await;
    let delivered_ms = t.elapsed().as_millis();
    // Let a duplicate, if there were one, arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut received: HashMap<String, usize> = HashMap::new();
    for c in rx.calls() {
        let id = c
            .header("x-tcauth-delivery")
            .unwrap_or_default()
            .to_string();
        *received.entry(id).or_default() += 1;
    }
    let mut per_node = Vec::new();
    for n in &nodes {
        per_node.push(attempts_metric(&http, n, "delivered").await);
    }
    eprintln!(
        "multi-node callbacks: {N} queued, {} received, all delivered within {} ms of falling \
         due, delivered per node {per_node:?}",
        rx.count(),
        delivered_ms
    );
    for id in &queued {
        assert_eq!(received.get(id), Some(&1), "delivery {id} received once");
    }
    assert_eq!(received.len(), N);
    assert_eq!(rx.count(), N, "no duplicates");
    assert!(log.iter().all(|d| d.attempts == 1), "one attempt each");
    assert_eq!(per_node.iter().sum::<u64>(), N as u64);
}

/// Polls `f` every 20 ms until it is true, for at most 3 s; how long it took.
async fn time_until<F, Fut>(mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// CONTRACT.md §7: a client change reaches every node within 1 s. Two nodes on one
/// PostgreSQL, no Redis (so each node's rate limits are its own and only the store carries
/// the change): a PATCH of `rate_limit` on node 0, then a `tcauth client update` from the CLI,
/// are each enforced by node 1 in under a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_change_reaches_every_node_within_a_second() {
    let Some(db) = gate::env_or_skip(
        &gate::TEST_DATABASE_URL,
        "the multi-node test a_client_change_reaches_every_node_within_a_second",
    ) else {
        return;
    };
    let schema = Schema::create(&db);
    let pg = std::net::ToSocketAddrs::to_socket_addrs(&target_of(&db, 5432))
        .unwrap()
        .next()
        .unwrap();
    let url = schema.url_via(pg);
    let dir = tempfile::tempdir().unwrap();
    // The default reload_interval (10 s): only the clients' poll can make it in time.
    let config = dir.path().join("tcauth.toml");
    std::fs::write(
        &config,
        "[rate_limit]\nper_second = 100000\nburst = 100000\n",
    )
    .unwrap();
    let nodes: Vec<Node> = (0..2)
        .map(|i| start_node(dir.path(), &config, &url, None, i))
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for n in &nodes {
        wait_ready(&http, n, Duration::from_secs(30)).await;
    }
    let created = http
        .post(format!("{}/admin/v1/clients", nodes[0].base))
        .bearer_auth(ADMIN)
        .json(
            &json!({"name":"mn","redirect_uris":["https://mn.example/cb"],
            "scopes":["openid","phone"],"grant_types":["authorization_code"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let client = created.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = |node: usize| {
        let (http, base, client) = (http.clone(), nodes[node].base.clone(), client.clone());
        async move {
            http.post(format!("{base}/v1/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", client.as_str()),
                    ("code", "no-such-code"),
                    ("code_verifier", &"v".repeat(43)),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for _ in 0..3 {
        assert_eq!(status(1).await, 403);
    }

    let r = http
        .patch(format!("{}/admin/v1/clients/{client}", nodes[0].base))
        .bearer_auth(ADMIN)
        .json(&json!({"rate_limit": {"per_second": 1, "burst": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let took = time_until(|| async { status(1).await == 429 })
        .await
        .expect("node 1 never applied the patched rate limit");
    eprintln!("multi-node: node 1 applied the PATCHed rate limit after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // The CLI writes the store directly; both nodes follow.
    let out = Command::new(BIN)
        .args(["client", "update", &client, "--no-rate-limit", "--json"])
        .current_dir(dir.path())
        .env_clear()
        .env("TCAUTH_DATABASE_URL", &url)
        .env("TCAUTH_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = Instant::now();
    for node in 0..2 {
        time_until(|| async {
            for _ in 0..5 {
                if status(node).await != 403 {
                    return false;
                }
            }
            true
        })
        .await
        .expect("a node never applied the CLI's change");
        let took = changed.elapsed();
        eprintln!("multi-node: node {node} applied the CLI's change after {took:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
}
