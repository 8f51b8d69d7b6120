//! What the cluster tests share: the test Redis (with a key prefix of each test's own, whose
//! keys are deleted when the test ends), nodes on it, and a TCP proxy to cut Redis off
//! (the testkit's [`Proxy`]).

use crate::common::TestServer;
use serde_json::json;
use std::net::SocketAddr;
use tcauth_server::Settings;
use tcauth_testkit::gate;

pub use tcauth_testkit::proxy::Proxy;

/// The test Redis's URL, or `None` after a loud SKIPPED line.
pub fn redis_url(test: &str) -> Option<String> {
    gate::env_or_skip(
        &gate::TEST_REDIS_URL,
        &format!("the Redis cluster test {test}"),
    )
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
