//! The Mobile Websites callback worker (CONTRACT.md §9, "Delivery"), against a real HTTP
//! receiver (`tcauth_testkit::receiver`): deliveries are queued in the store directly, as the
//! dialog does (`callbacks::queued` + `Store::finish_web_interaction`), and the server's worker
//! delivers them.
//! - `delivery`: one valid, signed callback; retries after a closed port, a 500, a timeout;
//!   redirects not followed; expiry;
//! - `journey`: registration, the dialog's Continue and the callback it posts, end to end;
//! - `ssrf`: link-local addresses (literal, IPv4-mapped, and a name resolving to one, with
//!   `TCAUTH_TEST_HOSTS`) and `callback_deny_networks` refused, with the reason in the log.
//!
//! The crash and multi-node cases are the `tcauth` binary's tests (`crash.rs`,
//! `multinode.rs`).

mod delivery;
mod journey;
mod ssrf;

use crate::common::{secret, TestServer};
use std::time::{Duration, Instant};
use tcauth_core::model::{CallbackDelivery, Client, DeliveryStatus, GrantType};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::{new_id, TokenHash};
use tcauth_server::callbacks::{self, Body};

/// A server whose worker polls every 20 ms and retries after 100 ms (doubling).
pub async fn fast_server(f: impl FnOnce(&mut tcauth_server::Settings)) -> TestServer {
    TestServer::start_with(|s| {
        s.callback_poll_interval = Duration::from_millis(20);
        s.callback_retry_base = Duration::from_millis(100);
        f(s);
    })
    .await
}

/// A client record with `callback_url` = `url` and a fresh salt; returns it with its
/// callback secret (as the admin answer would have shown it).
pub async fn client_with_callback(srv: &TestServer, url: &str) -> (Client, String) {
    let now = tcauth_server::now();
    let id = new_id();
    let salt = new_id();
    let c = Client {
        client_id: format!("cb{}", &id[..20].to_ascii_lowercase()),
        name: "Callback test".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: ScopeSet::parse("openid profile").unwrap(),
        grant_types: vec![GrantType::AuthorizationCode],
        rate_limit: None,
        created_at: now,
        branding: None,
        app_key: format!("key-{id}"),
        callback_url: Some(url.to_string()),
        callback_salt: Some(salt.clone()),
        package_name: None,
        updated_at_ms: now * 1000,
        mode: tcauth_core::model::ClientMode::Live,
    };
    srv.store.create_client(&c).await.unwrap();
    (c, callbacks::secret(&secret(), &salt))
}

/// A Continue body for `nonce`.
pub fn granted(nonce: &str) -> Body {
    Body::Granted {
        request_id: nonce.into(),
        access_token: format!("tok-{}", new_id()),
        endpoint: "https://id.example/v1/default".into(),
    }
}

/// Queues `body` for `client` to `url` (the client's callback URL unless given), expiring in
/// `ttl`, the way the dialog does; wakes the worker as the dialog would.
pub async fn queue(
    srv: &TestServer,
    client: &Client,
    url: Option<&str>,
    body: &Body,
    ttl: Duration,
) -> CallbackDelivery {
    let url = url.unwrap_or_else(|| client.callback_url.as_deref().unwrap());
    let now_ms = tcauth_server::now_ms() as i64;
    let exp = tcauth_server::now() + ttl.as_secs() as i64;
    let d = callbacks::queued(&secret(), &client.client_id, url, body, now_ms, exp);
    let key = TokenHash::of(&format!("interaction-{}", new_id()));
    assert!(srv
        .store
        .finish_web_interaction(&key, exp, None, &d)
        .await
        .unwrap());
    d
}

/// The delivery's row in the log.
pub async fn logged(srv: &TestServer, client: &Client, id: &str) -> CallbackDelivery {
    srv.store
        .list_deliveries(&client.client_id, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == id)
        .expect("the delivery is in the log")
}

/// Polls the log until `done` holds for the delivery (panics after `within`).
pub async fn wait_for(
    srv: &TestServer,
    client: &Client,
    id: &str,
    within: Duration,
    done: impl Fn(&CallbackDelivery) -> bool,
) -> CallbackDelivery {
    let deadline = Instant::now() + within;
    loop {
        let d = logged(srv, client, id).await;
        if done(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "delivery not as expected within {within:?}: {:?} attempts {} last_error {:?}",
            d.status,
            d.attempts,
            d.last_error
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_final(srv: &TestServer, client: &Client, id: &str) -> CallbackDelivery {
    wait_for(srv, client, id, Duration::from_secs(20), |d| {
        d.status != DeliveryStatus::Pending
    })
    .await
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, computed here with ring (not the server's code).
pub fn expected_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
