//! The test harness: a real server on a port-0 listener over its own temporary SQLite store,
//! plus small helpers that speak the contract (admin API, token endpoint, userinfo).
//!
//! Every test starts its own [`TestServer`], so tests run in parallel and in any order.
//! Nothing sleeps to wait for start-up: the listener is bound before `serve` is spawned, so
//! connections made right away wait in the backlog until the server accepts them.

pub mod fault;
pub mod raw;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand_core::{OsRng, RngCore};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tcauth_core::model::SigningKeyRecord;
use tcauth_server::{Secret, ServeError, Settings};
use tcauth_store::{SqliteStore, Store};
use tcauth_testkit::ports::local_listener;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use fault::{Fault, FaultyStore};

/// The server secret every test server uses.
pub fn secret() -> Secret {
    Secret(vec![7; 32])
}

/// The admin token of every test server (when the admin API is on).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// The redirect URI test clients register.
pub const REDIRECT_URI: &str = "https://app.example/cb";

/// The profile of the "main" test user.
pub const PHONE: &str = "+919876543210";

/// RSA key generation is slow; one key, generated once per test binary, is put into each new
/// store before the server starts, so the server finds a key and does not generate one.
/// (Tests that exercise generation start with `StartOpts { seed_key: false, .. }`.)
async fn seeded_key() -> SigningKeyRecord {
    static KEY: OnceLock<SigningKeyRecord> = OnceLock::new();
    if let Some(k) = KEY.get() {
        return k.clone();
    }
    let rec = tokio::task::spawn_blocking(|| {
        KEY.get_or_init(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            tcauth_server::keys::generate(&secret(), now).expect("generate RSA key")
        })
        .clone()
    })
    .await
    .unwrap();
    rec
}

/// How to start a test server.
#[derive(Clone, Copy)]
pub struct StartOpts {
    /// Put a pre-generated signing key into the store first (fast start).
    pub seed_key: bool,
    /// Configure an admin token (else the admin API answers 404).
    pub admin: bool,
    /// Wrap the store in a [`FaultyStore`] the test can switch to failing or hanging.
    pub faulty: bool,
}

impl Default for StartOpts {
    fn default() -> Self {
        StartOpts {
            seed_key: true,
            admin: true,
            faulty: false,
        }
    }
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>`, also the issuer.
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub admin_token: String,
    /// The store the server runs on (the real SQLite store, or the faulty wrapper).
    pub store: Arc<dyn Store>,
    /// The SQLite store itself.
    pub sqlite: Arc<SqliteStore>,
    pub db_path: PathBuf,
    pub settings: Settings,
    pub http: reqwest::Client,
    pub fault: Option<Arc<Fault>>,
    dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client that opens a new connection for every request (for requests after which the
/// server may close the connection: oversized bodies and headers).
pub fn http_client_no_pool() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_opts(StartOpts::default(), |_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_opts(StartOpts::default(), f).await
    }

    pub async fn start_opts(opts: StartOpts, f: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_inner(None, opts, f).await
    }

    /// A server on `store` (a PostgreSQL store, say) instead of its own SQLite file; `sqlite`
    /// and `db_path` are then an empty store it does not use, and [`TestServer::restart`]
    /// must not be called.
    pub async fn start_on(
        store: Arc<dyn Store>,
        opts: StartOpts,
        f: impl FnOnce(&mut Settings),
    ) -> TestServer {
        assert!(!opts.faulty, "start_on takes the store as given");
        Self::start_inner(Some(store), opts, f).await
    }

    async fn start_inner(
        other: Option<Arc<dyn Store>>,
        opts: StartOpts,
        f: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("tcauth.db");
        let sqlite = Arc::new(SqliteStore::open(&db_path).expect("open store"));
        let runs_on: Arc<dyn Store> = match &other {
            Some(s) => s.clone(),
            None => sqlite.clone(),
        };
        if opts.seed_key && runs_on.list_signing_keys().await.expect("keys").is_empty() {
            runs_on
                .add_signing_key(&seeded_key().await, tcauth_server::keys::KEYS_KEPT)
                .await
                .expect("seed signing key");
        }
        let listener = local_listener().await;
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings::new(secret());
        settings.listen = addr;
        settings.issuer = format!("http://{addr}");
        if opts.admin {
            settings.admin_token = Some(Secret(ADMIN_TOKEN.as_bytes().to_vec()));
        }
        f(&mut settings);
        let (store, fault): (Arc<dyn Store>, _) = if let Some(other) = other {
            (other, None)
        } else if opts.faulty {
            let fault = Arc::new(Fault::default());
            (
                Arc::new(FaultyStore::new(sqlite.clone(), fault.clone())),
                Some(fault),
            )
        } else {
            (sqlite.clone(), None)
        };
        let mut s = TestServer {
            base: format!("http://{addr}"),
            addr,
            admin_token: ADMIN_TOKEN.to_string(),
            store,
            sqlite,
            db_path,
            settings,
            http: http_client(),
            fault,
            dir,
            shutdown: None,
            task: None,
        };
        s.spawn(listener);
        s.wait_started().await;
        s
    }

    /// One request to `/healthz`: returns once `serve` has finished start-up (loaded its keys
    /// and is accepting), so a test may then break the store without breaking the start.
    /// Not a sleep: the listener is bound, so the request waits in the backlog if need be.
    async fn wait_started(&mut self) {
        match self.http.get(self.url("/healthz")).send().await {
            Ok(r) if r.status() == 200 => {}
            other => {
                let status = other.map(|r| r.status().to_string());
                if let Some(task) = self.task.take() {
                    if task.is_finished() {
                        panic!("serve failed to start: {:?} ({status:?})", task.await);
                    }
                    self.task = Some(task);
                }
                panic!("the server did not come up: /healthz gave {status:?}");
            }
        }
    }

    fn spawn(&mut self, listener: TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tcauth_server::serve(
            listener,
            self.settings.clone(),
            self.store.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        self.shutdown = Some(tx);
        self.task = Some(task);
    }

    /// Stops the server and waits until `serve` returned.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Idle keep-alive connections of our client must not hold the graceful shutdown.
        self.http = http_client();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(15), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("serve returned an error: {e:?}"),
                Ok(Err(e)) => panic!("serve panicked: {e:?}"),
                Err(_) => panic!("serve did not stop within 15 s of the shutdown signal"),
            }
        }
    }

    /// Stops the server, reopens the store from the same file and starts again (same port when
    /// it is free, else a new one).
    pub async fn restart(&mut self) {
        self.stop().await;
        let sqlite = Arc::new(SqliteStore::open(&self.db_path).expect("reopen store"));
        self.sqlite = sqlite.clone();
        self.store = match &self.fault {
            Some(f) => Arc::new(FaultyStore::new(sqlite, f.clone())),
            None => sqlite,
        };
        let listener = match TcpListener::bind(self.addr).await {
            Ok(l) => l,
            Err(_) => local_listener().await,
        };
        self.addr = listener.local_addr().unwrap();
        self.base = format!("http://{}", self.addr);
        self.settings.listen = self.addr;
        self.settings.issuer = self.base.clone();
        self.spawn(listener);
        self.wait_started().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    // --- admin ---------------------------------------------------------------------------

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> reqwest::Response {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, self.url(path))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    /// Creates a client from a full JSON description; asserts 201 and returns the object.
    pub async fn create_client_json(&self, body: Value) -> Value {
        let r = self.admin("POST", "/admin/v1/clients", Some(body)).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 201, "create client: {v}");
        v
    }

    /// A client with the given scopes and grants, redirect URI [`REDIRECT_URI`]; its id.
    pub async fn create_client(&self, scopes: &[&str], grants: &[&str]) -> String {
        let v = self
            .create_client_json(json!({
                "name": "Test App",
                "redirect_uris": [REDIRECT_URI],
                "scopes": scopes,
                "grant_types": grants,
            }))
            .await;
        v["client_id"].as_str().unwrap().to_string()
    }

    /// A client allowed every scope and both grants.
    pub async fn full_client(&self) -> String {
        self.create_client(
            &[
                "openid",
                "profile",
                "phone",
                "email",
                "address",
                "offline_access",
            ],
            &["authorization_code", "refresh_token"],
        )
        .await
    }

    pub async fn create_user_json(&self, body: Value) -> Value {
        let r = self.admin("POST", "/admin/v1/users", Some(body)).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 201, "create user: {v}");
        v
    }

    /// The main test user, +919876543210 with a full profile; their `sub`.
    pub async fn create_user(&self) -> String {
        let v = self.create_user_json(full_profile(PHONE)).await;
        v["sub"].as_str().unwrap().to_string()
    }

    /// Another user with a unique number and only a phone number; their `sub`.
    pub async fn create_bare_user(&self) -> String {
        let v = self
            .create_user_json(json!({ "phone_number": unique_phone() }))
            .await;
        v["sub"].as_str().unwrap().to_string()
    }

    /// `POST /admin/v1/authorizations` with `extra` merged into the body.
    pub async fn authorize(
        &self,
        client_id: &str,
        sub: &str,
        scopes: &[&str],
        challenge: &str,
        extra: Value,
    ) -> reqwest::Response {
        let mut body = json!({
            "client_id": client_id,
            "sub": sub,
            "scopes": scopes,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.admin("POST", "/admin/v1/authorizations", Some(body))
            .await
    }

    /// Mints a code with a fresh random verifier; asserts 201.
    pub async fn mint_code_with(
        &self,
        client_id: &str,
        sub: &str,
        scopes: &[&str],
        extra: Value,
    ) -> Code {
        let verifier = random_verifier();
        let challenge = challenge_of(&verifier);
        let r = self
            .authorize(client_id, sub, scopes, &challenge, extra)
            .await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 201, "mint code: {v}");
        Code {
            code: v["code"].as_str().unwrap().to_string(),
            verifier,
            challenge,
        }
    }

    pub async fn mint_code(&self, client_id: &str, sub: &str, scopes: &[&str]) -> Code {
        self.mint_code_with(client_id, sub, scopes, json!({})).await
    }

    // --- token endpoint -----------------------------------------------------------------

    /// POSTs `params` form-encoded to `/v1/token`.
    pub async fn token(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/v1/token"))
            .form(params)
            .send()
            .await
            .unwrap()
    }

    pub async fn exchange(&self, client_id: &str, code: &Code) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code.code),
            ("code_verifier", &code.verifier),
        ])
        .await
    }

    /// Exchanges and asserts 200; the response JSON.
    pub async fn exchange_ok(&self, client_id: &str, code: &Code) -> Value {
        let (st, _, v) = json_of(self.exchange(client_id, code).await).await;
        assert_eq!(st, 200, "exchange: {v}");
        v
    }

    /// Mints a code for `scopes` and exchanges it; the 200 JSON.
    pub async fn tokens(&self, client_id: &str, sub: &str, scopes: &[&str]) -> Value {
        let code = self.mint_code(client_id, sub, scopes).await;
        self.exchange_ok(client_id, &code).await
    }

    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut p = vec![
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ];
        if let Some(s) = scope {
            p.push(("scope", s));
        }
        self.token(&p).await
    }

    pub async fn refresh_ok(&self, client_id: &str, refresh_token: &str) -> Value {
        let (st, _, v) = json_of(self.refresh(client_id, refresh_token, None).await).await;
        assert_eq!(st, 200, "refresh: {v}");
        v
    }

    pub async fn revoke(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/v1/revoke"))
            .form(params)
            .send()
            .await
            .unwrap()
    }

    // --- userinfo ------------------------------------------------------------------------

    pub async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/v1/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The status of userinfo for this token.
    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        self.userinfo(access_token).await.status().as_u16()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// Every row of every table, as text, table by table (the store's full state).
    pub fn dump_tables(&self) -> Vec<(String, Vec<Vec<String>>)> {
        dump_tables(&self.db_path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A minted authorization code and the PKCE pair behind it.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub verifier: String,
    pub challenge: String,
}

pub fn full_profile(phone: &str) -> Value {
    json!({
        "phone_number": phone,
        "given_name": "Asha",
        "family_name": "Rao",
        "email": "asha@example.com",
        "picture": "https://img.example/asha.png",
        "gender": "female",
        "address": {"locality": "Pune", "postal_code": "411001"},
    })
}

/// A valid Indian mobile number not used before in this test binary.
pub fn unique_phone() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed) % 9000 + 1000;
    format!("+91987654{n:04}")
}

/// 43 characters of base64url from 32 CSPRNG bytes (RFC 7636 §4.1).
pub fn random_verifier() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// `BASE64URL(SHA256(verifier))`, computed here independently of the server.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the access token.
pub fn at_hash_of(access_token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// Status, headers and JSON body (panics with the raw text when the body is not JSON).
pub async fn json_of(resp: reqwest::Response) -> (u16, HeaderMap, Value) {
    let st = resp.status().as_u16();
    let h = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {st}: body is not JSON ({e}): {text:?}"));
    (st, h, v)
}

/// Asserts the content type is `application/json` (parameters such as a charset allowed).
pub fn assert_json_content_type(h: &HeaderMap) {
    let ct = h
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    assert_eq!(essence, "application/json", "Content-Type was {ct:?}");
}

/// Asserts the exact status, the exact JSON body and a JSON content type; returns the headers.
pub async fn assert_json_error(resp: reqwest::Response, status: u16, expected: Value) -> HeaderMap {
    let url = resp.url().clone();
    let st = resp.status().as_u16();
    let h = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    assert_eq!(
        (st, &v),
        (status, &expected),
        "{url}: expected {status} {expected}, got {st} {text}"
    );
    assert_json_content_type(&h);
    h
}

/// Asserts a 400 `invalid_request` whose description mentions `needle` (case-insensitive) and
/// is a single printable line; the body has no other members.
pub async fn assert_invalid_request(resp: reqwest::Response, needle: &str) {
    let (st, h, v) = json_of(resp).await;
    assert_eq!(st, 400, "{v}");
    assert_json_content_type(&h);
    assert_eq!(v["error"], "invalid_request", "{v}");
    let d = v["error_description"]
        .as_str()
        .unwrap_or_else(|| panic!("no description: {v}"));
    assert!(
        d.to_lowercase().contains(&needle.to_lowercase()),
        "description {d:?} should mention {needle:?}"
    );
    assert!(!d.contains(['\r', '\n', '\t']), "CR/LF/TAB in {d:?}");
    assert_eq!(v.as_object().unwrap().len(), 2, "extra members: {v}");
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

/// `Retry-After` as whole seconds; panics when absent or not an integer.
pub fn retry_after(h: &HeaderMap) -> u64 {
    let v = header(h, "retry-after").expect("Retry-After header");
    v.trim()
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {v:?} is not whole seconds"))
}

/// Shannon entropy of the string's characters, times its length: an estimate (as the OpenID
/// conformance suite's) of the bits of randomness it carries.
pub fn shannon_bits(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = s.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// The most bits a string of this length over its apparent alphabet can hold.
pub fn max_bits(s: &str) -> f64 {
    let alphabet = if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        16.0
    } else if s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        64.0
    } else {
        95.0
    };
    s.len() as f64 * f64::log2(alphabet)
}

/// Asserts a bearer secret carries at least 128 bits: long enough over its alphabet, and with
/// a Shannon estimate of at least 96 bits (the conformance suite's threshold).
pub fn assert_strong_secret(what: &str, s: &str) {
    assert!(
        max_bits(s) >= 128.0,
        "{what} {s:?} can hold only {:.0} bits",
        max_bits(s)
    );
    assert!(
        shannon_bits(s) >= 96.0,
        "{what} {s:?} has a Shannon estimate of {:.0} bits",
        shannon_bits(s)
    );
}

/// Every row of every table of the SQLite file, each value rendered as text (blobs as lossy
/// UTF-8 and as hex), for comparisons and secret searches.
pub fn dump_tables(path: &std::path::Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for t in names {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{}\"", t.replace('"', "\"\"")))
            .unwrap();
        let ncol = stmt.column_count();
        let mut rows: Vec<Vec<String>> = stmt
            .query_map([], |r| {
                let mut row = Vec::with_capacity(ncol);
                for i in 0..ncol {
                    use rusqlite::types::ValueRef;
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => "NULL".to_string(),
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(f) => f.to_string(),
                        ValueRef::Text(b) => String::from_utf8_lossy(b).into_owned(),
                        ValueRef::Blob(b) => format!(
                            "{} x'{}'",
                            String::from_utf8_lossy(b),
                            tcauth_core::secret::hex(b)
                        ),
                    });
                }
                Ok(row)
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        out.push((t, rows));
    }
    out
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of a Prometheus sample line `name` (exact series text), if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == series).then(|| v.parse().ok()).flatten()
    })
}

// --- the contract's error bodies ---------------------------------------------------------

pub fn e_empty() -> Value {
    json!({"error":"invalid_request","error_description":"Empty parameter(s) in request"})
}
pub fn e_unsupported(value: &str) -> Value {
    json!({"error":"unsupported_grant_type","error_description":format!("Grant type {value} not supported")})
}
pub fn e_invalid_client() -> Value {
    json!({"error":"invalid_client","error_description":"Invalid client Id"})
}
pub fn e_grant_not_allowed() -> Value {
    json!({"error":"invalid_grant"})
}
pub fn e_access_denied() -> Value {
    json!({"error":"access_denied"})
}
pub fn e_invalid_code() -> Value {
    json!({"error":"invalid_grant","error_description":"Invalid authorization code"})
}
pub fn e_invalid_verifier() -> Value {
    json!({"error":"invalid_grant","error_description":"Invalid code verifier"})
}
pub fn e_invalid_refresh() -> Value {
    json!({"error":"invalid_grant","error_description":"Invalid refresh token"})
}
pub fn e_invalid_scope() -> Value {
    json!({"error":"invalid_scope","error_description":"Requested scope exceeds the granted scope"})
}
pub fn e_too_many() -> Value {
    json!({"error":"too_many_requests"})
}
pub fn e_unavailable() -> Value {
    json!({"error":"temporarily_unavailable"})
}
pub fn e_too_large() -> Value {
    json!({"error":"invalid_request","error_description":"Request body too large"})
}
pub fn e_bearer_required() -> Value {
    json!({"error":"invalid_request","error_description":"Bearer token required"})
}
pub fn e_invalid_token() -> Value {
    json!({"error":"invalid_token","error_description":"Token is invalid or expired"})
}
pub fn e_no_openid() -> Value {
    json!({"error":"insufficient_scope","error_description":"openid scope missing in initial request"})
}
pub fn e_no_profile() -> Value {
    json!({"error":"not_found","error_description":"Profile information is not present for the user"})
}

/// A rate limit so high it never bites (for tests that fire many requests).
pub fn unlimited() -> tcauth_core::model::RateLimit {
    tcauth_core::model::RateLimit {
        per_second: 1_000_000,
        burst: 1_000_000,
    }
}
