//! What the cluster tests share: the test Redis (with a key prefix of each test's own, whose
//! keys are deleted when the test ends), nodes on it, and a TCP proxy to cut Redis off.

use crate::common::TestServer;
use serde_json::json;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tcauth_server::Settings;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The test Redis's URL, or `None` after a loud SKIPPED line (straight to the stderr handle,
/// which the test harness does not capture).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var("TCAUTH_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: set TCAUTH_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/; .ci/run sets \
                 it) to run the Redis cluster test {test}"
            );
            None
        }
    }
}

/// One test's share of Redis: a random prefix; every key under it is deleted on drop.
pub struct Keys {
    pub url: String,
    pub prefix: String,
}

impl Keys {
    pub fn for_test(test: &str) -> Option<Keys> {
        let url = redis_url(test)?;
        Some(Keys {
            url,
            prefix: format!("tcauth-test:{}:", tcauth_core::secret::new_id()),
        })
    }

    /// Points a server's settings at this Redis and prefix.
    pub fn configure(&self, s: &mut Settings) {
        s.redis_url = Some(self.url.clone());
        s.redis_prefix = self.prefix.clone();
        // Tests on a busy machine: a generous bound still shows the fallback.
        s.redis_timeout = std::time::Duration::from_millis(500);
    }

    /// A node on its own store, sharing this Redis; `f` adjusts the settings further.
    pub async fn node(&self, f: impl FnOnce(&mut Settings)) -> TestServer {
        TestServer::start_with(|s| {
            self.configure(s);
            f(s)
        })
        .await
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .expect("the test Redis answers")
    }

    /// Every key under the prefix, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut self.conn())
            .unwrap();
        keys.sort();
        keys
    }

    /// The members of a sorted set.
    pub fn members(&self, key: &str) -> Vec<String> {
        redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut self.conn())
            .unwrap()
    }

    /// Milliseconds before `key` expires (negative: no expiry or no key).
    pub fn pttl(&self, key: &str) -> i64 {
        redis::cmd("PTTL").arg(key).query(&mut self.conn()).unwrap()
    }

    /// `host:port` of the test Redis.
    pub fn target(&self) -> String {
        let info = redis::Client::open(self.url.as_str()).unwrap();
        info.get_connection_info().addr.to_string()
    }

    /// The test Redis's URL with `addr` instead of its host and port.
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let rest = self.url.split_once("://").unwrap().1;
        let (auth, after) = rest.rsplit_once('@').unwrap_or(("", rest));
        let path = after.find('/').map_or("", |i| &after[i..]);
        let auth = if auth.is_empty() {
            String::new()
        } else {
            format!("{auth}@")
        };
        format!("redis://{auth}{addr}{path}")
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let keys = self.list();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query(&mut self.conn())
                .unwrap();
        }
    }
}

/// `POST /v1/otp/client/verification/request` for `phone` (E.164 or national Indian).
pub async fn otp_request(s: &TestServer, client_id: &str, phone: &str) -> reqwest::Response {
    s.http
        .post(s.url("/v1/otp/client/verification/request"))
        .header("clientId", client_id)
        .json(&json!({"phoneNumber": phone, "countryCode": "IN"}))
        .send()
        .await
        .unwrap()
}

/// A TCP proxy the test can cut (every connection closed, new ones refused) and restore.
pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            down,
            conns,
            accept,
        }
    }

    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
