//! What the crash and multi-node callback tests share: a client record with a callback URL
//! and deliveries queued in the store directly (as the Mobile Websites dialog does), under the
//! server secret the test gives the binary (`TCAUTH_SECRET`).

use std::time::{Duration, Instant};
use tcauth_core::model::{CallbackDelivery, Client, DeliveryStatus, GrantType};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::{new_id, TokenHash};
use tcauth_server::callbacks::{self, Body};
use tcauth_server::Secret;
use tcauth_store::Store;

/// `TCAUTH_SECRET` of the binary: 33 characters that are not base64, so the text itself is
/// the secret.
pub const SECRET_TEXT: &str = "callback-test-secret-0123456789!!";

/// The `tcauth.toml` lines that make the worker fast in tests.
pub const FAST: &str = "callback_poll_interval_ms = 50\ncallback_retry_base_ms = 200\n";

pub fn server_secret() -> Secret {
    Secret(SECRET_TEXT.as_bytes().to_vec())
}

pub async fn client_with_callback(store: &dyn Store, url: &str) -> Client {
    let now = tcauth_server::now();
    let id = new_id().to_ascii_lowercase();
    let c = Client {
        client_id: format!("cb{}", &id[..20]),
        name: "Callback test".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: ScopeSet::parse("openid profile").unwrap(),
        grant_types: vec![GrantType::AuthorizationCode],
        rate_limit: None,
        created_at: now,
        branding: None,
        app_key: format!("key-{id}"),
        callback_url: Some(url.to_string()),
        callback_salt: Some(new_id()),
        package_name: None,
        updated_at_ms: now * 1000,
        mode: tcauth_core::model::ClientMode::Live,
    };
    store.create_client(&c).await.unwrap();
    c
}

/// Queues a reject body for `nonce` to the client's callback URL, first due at `due_ms` (Unix
/// ms), expiring in 10 minutes.
pub async fn queue_due(
    store: &dyn Store,
    client: &Client,
    nonce: &str,
    due_ms: i64,
) -> CallbackDelivery {
    queue_body(store, client, &Body::rejected(nonce), due_ms).await
}

/// Queues `body`, first due at `due_ms`, expiring in 10 minutes.
pub async fn queue_body(
    store: &dyn Store,
    client: &Client,
    body: &Body,
    due_ms: i64,
) -> CallbackDelivery {
    let exp = tcauth_server::now() + 600;
    let d = callbacks::queued(
        &server_secret(),
        &client.client_id,
        client.callback_url.as_deref().unwrap(),
        body,
        due_ms,
        exp,
    );
    let key = TokenHash::of(&format!("interaction-{}", new_id()));
    assert!(store
        .finish_web_interaction(&key, exp, None, &d)
        .await
        .unwrap());
    d
}

/// Polls the client's delivery log until `done` holds for all of it (panics after `within`).
pub async fn wait_log(
    store: &dyn Store,
    client_id: &str,
    within: Duration,
    done: impl Fn(&[CallbackDelivery]) -> bool,
) -> Vec<CallbackDelivery> {
    let deadline = Instant::now() + within;
    loop {
        let log = store.list_deliveries(client_id, 1000).await.unwrap();
        if done(&log) {
            return log;
        }
        if Instant::now() >= deadline {
            let summary: Vec<_> = log
                .iter()
                .map(|d| (d.status, d.attempts, d.last_error.clone()))
                .collect();
            panic!("the delivery log did not get there within {within:?}: {summary:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn all_delivered(log: &[CallbackDelivery]) -> bool {
    !log.is_empty() && log.iter().all(|d| d.status == DeliveryStatus::Delivered)
}
