//! Delivery: exactly one valid callback; retries (closed port, 500, timeout), the same
//! `X-Tcauth-Delivery` on each; redirects not followed; expiry while failing.

use super::*;
use std::time::Duration;
use tcauth_core::model::DeliveryStatus;
use tcauth_testkit::ports::free_port;
use tcauth_testkit::receiver::{Answer, Receiver};

const TTL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn one_valid_signed_callback_is_delivered_once() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    let (client, cb_secret) = client_with_callback(&srv, &rx.url("/truecaller/cb")).await;
    let body = granted("nonce-one-0001");
    let d = queue(&srv, &client, None, &body, TTL).await;
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts, 1);
    assert_eq!(done.last_error, None);
    assert!(done.delivered_at.is_some());
    assert_eq!(done.request_id, "nonce-one-0001");
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = rx.calls();
    assert_eq!(calls.len(), 1, "exactly one callback");
    let c = &calls[0];
    assert_eq!(c.method, "POST");
    assert_eq!(c.path, "/truecaller/cb");
    assert_eq!(c.body, body.to_bytes(), "the body bytes as queued");
    assert_eq!(c.header("content-type"), Some("application/json"));
    assert_eq!(c.header("x-tcauth-delivery"), Some(d.id.as_str()));
    assert_eq!(
        c.header("x-tcauth-signature"),
        Some(expected_signature(&cb_secret, &c.body).as_str())
    );
    assert!(
        c.header("user-agent")
            .is_some_and(|ua| ua.starts_with("tcauth/")),
        "{:?}",
        c.header("user-agent")
    );
    let m = srv.metrics().await;
    assert!(
        m.contains("tcauth_callback_attempts_total{result=\"delivered\"} 1\n"),
        "{m}"
    );
    assert!(m.contains("tcauth_callback_attempts_total{result=\"failed\"} 0\n"));
    assert!(m.contains("# TYPE tcauth_callback_deliveries_pending gauge\n"));
}

#[tokio::test]
async fn a_closed_port_then_a_receiver_gets_it_once_with_the_same_id() {
    let srv = fast_server(|_| {}).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/cb");
    let (client, _) = client_with_callback(&srv, &url).await;
    let d = queue(&srv, &client, None, &Body::rejected("nonce-down-01"), TTL).await;
    // Down: attempts fail with a connection error and are retried.
    let failing = wait_for(&srv, &client, &d.id, Duration::from_secs(10), |d| {
        d.attempts >= 3
    })
    .await;
    assert_eq!(failing.status, DeliveryStatus::Pending);
    let err = failing.last_error.clone().unwrap_or_default();
    assert!(err.starts_with("connect: "), "{err}");
    assert!(!err.contains("nonce-down-01"), "{err}");
    assert!(failing.next_attempt_at_ms > 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rx = Receiver::start_on(port, vec![]).await;
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert!(done.attempts > 3, "attempts {}", done.attempts);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = rx.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("x-tcauth-delivery"), Some(d.id.as_str()));
    assert_eq!(calls[0].body, Body::rejected("nonce-down-01").to_bytes());
    let m = srv.metrics().await;
    assert!(m.contains("tcauth_callback_attempts_total{result=\"delivered\"} 1\n"));
    assert!(!m.contains("tcauth_callback_attempts_total{result=\"retried\"} 0\n"));
}

#[tokio::test]
async fn a_500_then_200_is_retried_with_the_same_id() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![Answer::Status(500), Answer::Status(503)]).await;
    let (client, cb_secret) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-500-001"), TTL).await;
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = rx.calls();
    assert_eq!(calls.len(), 3);
    for c in &calls {
        assert_eq!(c.header("x-tcauth-delivery"), Some(d.id.as_str()));
        assert_eq!(c.body, calls[0].body);
        assert_eq!(
            c.header("x-tcauth-signature"),
            Some(expected_signature(&cb_secret, &c.body).as_str())
        );
    }
}

#[tokio::test]
async fn the_last_error_says_why_while_retrying() {
    let srv = fast_server(|s| s.callback_retry_base = Duration::from_secs(5)).await;
    let rx = Receiver::start(vec![Answer::Status(500)]).await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-why-001"), TTL).await;
    let failing = wait_for(&srv, &client, &d.id, Duration::from_secs(5), |d| {
        d.attempts == 1
    })
    .await;
    assert_eq!(failing.status, DeliveryStatus::Pending);
    assert_eq!(failing.last_error.as_deref(), Some("HTTP 500"));
    // The first retry waits 2.5–5 s (base 5 s, jitter).
    let wait = failing.next_attempt_at_ms - tcauth_server::now_ms() as i64;
    assert!((1_500..=5_000).contains(&wait), "next attempt in {wait} ms");
    // The gauge (refreshed about once a second) counts it while it waits.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let m = srv.metrics().await;
    assert!(m.contains("tcauth_callback_deliveries_pending 1\n"), "{m}");
    assert!(
        m.contains("tcauth_callback_attempts_total{result=\"retried\"} 1\n"),
        "{m}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let srv = fast_server(|_| {}).await;
    let target = Receiver::start(vec![]).await;
    let rx = Receiver::start(vec![
        Answer::Redirect(target.url("/elsewhere")),
        Answer::Redirect(target.url("/elsewhere")),
    ])
    .await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-302-001"), TTL).await;
    let first = wait_for(&srv, &client, &d.id, Duration::from_secs(5), |d| {
        d.attempts >= 1
    })
    .await;
    assert_eq!(
        first.last_error.as_deref(),
        Some("HTTP 302 (redirects are not followed)")
    );
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 3);
    assert_eq!(target.count(), 0, "the redirect target received nothing");
}

#[tokio::test]
async fn a_receiver_slower_than_3_s_is_a_failed_attempt_and_retried() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![Answer::Sleep(Duration::from_millis(3_600))]).await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-slow-01"), TTL).await;
    let first = wait_for(&srv, &client, &d.id, Duration::from_secs(8), |d| {
        d.attempts >= 1
    })
    .await;
    assert_eq!(first.last_error.as_deref(), Some("timed out after 3 s"));
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts, 2);
    let calls = rx.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("x-tcauth-delivery"),
        calls[1].header("x-tcauth-delivery")
    );
}

#[tokio::test]
async fn a_delivery_whose_expiry_passes_while_failing_ends_failed() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    rx.otherwise(Answer::Status(500));
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(
        &srv,
        &client,
        None,
        &granted("nonce-exp-001"),
        Duration::from_secs(2),
    )
    .await;
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Failed);
    assert_eq!(
        done.last_error.as_deref(),
        Some("expired before a 2xx (last error: HTTP 500)")
    );
    assert!(done.attempts >= 2, "attempts {}", done.attempts);
    assert_eq!(rx.count() as u32, done.attempts);
    // Given up: no further attempt.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count() as u32, done.attempts);
    let m = srv.metrics().await;
    assert!(
        m.contains("tcauth_callback_attempts_total{result=\"failed\"} 1\n"),
        "{m}"
    );
}

#[tokio::test]
async fn a_deleted_client_or_a_cleared_or_changed_callback_url_fails_at_once() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    let (gone, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    assert!(srv.store.delete_client(&gone.client_id).await.unwrap());
    // A delivery of a client deleted since it was queued.
    let d2 = queue(&srv, &gone, None, &granted("nonce-gone-02"), TTL).await;
    let done = wait_final(&srv, &gone, &d2.id).await;
    assert_eq!(done.status, DeliveryStatus::Failed);
    assert_eq!(done.last_error.as_deref(), Some("the client was deleted"));

    let (mut cleared, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    cleared.callback_url = None;
    cleared.callback_salt = None;
    cleared.updated_at_ms += 1;
    let url = rx.url("/cb");
    srv.store.update_client(&cleared).await.unwrap();
    let d3 = queue(&srv, &cleared, Some(&url), &granted("nonce-clr-01"), TTL).await;
    let done = wait_final(&srv, &cleared, &d3.id).await;
    assert_eq!(done.status, DeliveryStatus::Failed);
    assert_eq!(
        done.last_error.as_deref(),
        Some("the client's callback_url was cleared")
    );

    let (mut moved, _) = client_with_callback(&srv, &rx.url("/old")).await;
    moved.callback_url = Some(rx.url("/new"));
    moved.callback_salt = Some(tcauth_core::secret::new_id());
    moved.updated_at_ms += 1;
    srv.store.update_client(&moved).await.unwrap();
    let old = rx.url("/old");
    let d4 = queue(&srv, &moved, Some(&old), &granted("nonce-mov-01"), TTL).await;
    let done = wait_final(&srv, &moved, &d4.id).await;
    assert_eq!(done.status, DeliveryStatus::Failed);
    assert_eq!(
        done.last_error.as_deref(),
        Some("the client's callback_url changed since it was queued")
    );
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn a_stopping_server_finishes_and_records_its_attempt_in_flight() {
    let mut srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![Answer::Sleep(Duration::from_millis(1_000))]).await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-stop-01"), TTL).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rx.count() == 0 {
        assert!(std::time::Instant::now() < deadline, "no attempt arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The receiver is still sleeping on the attempt when the server is told to stop.
    srv.stop().await;
    let done = logged(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.attempts, 1);
}

#[tokio::test]
async fn a_backlog_of_300_is_delivered_each_once() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    // All due at one instant, 2 s from now, so the figure is the worker's drain rate.
    let due_ms = tcauth_server::now_ms() as i64 + 2_000;
    let exp = tcauth_server::now() + 600;
    let mut ids = std::collections::HashSet::new();
    for i in 0..300 {
        let body = granted(&format!("nonce-bulk-{i:04}"));
        let d = tcauth_server::callbacks::queued(
            &crate::common::secret(),
            &client.client_id,
            &rx.url("/cb"),
            &body,
            due_ms,
            exp,
        );
        let key = tcauth_core::secret::TokenHash::of(&format!("bulk-{i}-{}", d.id));
        assert!(srv
            .store
            .finish_web_interaction(&key, exp, None, &d)
            .await
            .unwrap());
        ids.insert(d.id);
    }
    let wait = due_ms - tcauth_server::now_ms() as i64;
    assert!(wait > 0, "queueing took more than 2 s");
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let t = std::time::Instant::now();
    let deadline = t + Duration::from_secs(30);
    loop {
        let log = srv
            .store
            .list_deliveries(&client.client_id, 1000)
            .await
            .unwrap();
        if log.len() == 300 && log.iter().all(|d| d.status == DeliveryStatus::Delivered) {
            assert!(log.iter().all(|d| d.attempts == 1));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "backlog not delivered in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "callback backlog: 300 due at once, all delivered within {} ms (at most {} attempts \
         at once; SQLite store, loopback receiver)",
        t.elapsed().as_millis(),
        tcauth_server::callbacks::worker::CONCURRENCY
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = rx.calls();
    assert_eq!(calls.len(), 300, "no duplicates");
    let got: std::collections::HashSet<String> = calls
        .iter()
        .map(|c| c.header("x-tcauth-delivery").unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    let m = srv.metrics().await;
    assert!(
        m.contains("tcauth_callback_attempts_total{result=\"delivered\"} 300\n"),
        "{m}"
    );
}
