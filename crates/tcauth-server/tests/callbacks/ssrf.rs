//! SSRF: a callback to a link-local address (cloud metadata) is refused at delivery time, by
//! IP literal, IPv4-mapped literal, or a name resolving to one; `callback_deny_networks` adds
//! ranges. A refusal fails the delivery at once, with the reason in the log; nothing is sent.

use super::*;
use std::time::Duration;
use tcauth_core::model::DeliveryStatus;
use tcauth_testkit::gate;
use tcauth_testkit::receiver::Receiver;

const TTL: Duration = Duration::from_secs(600);

/// Queues a callback to `url` for a client whose callback URL it is (written to the store
/// directly: registration would refuse most of these), and returns why it failed.
async fn refused(srv: &TestServer, url: &str) -> String {
    let (client, _) = client_with_callback(srv, url).await;
    let d = queue(srv, &client, None, &granted("nonce-ssrf-01"), TTL).await;
    let done = wait_final(srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Failed, "{url}");
    assert_eq!(done.attempts, 1, "{url}: refused at the first attempt");
    done.last_error.unwrap_or_default()
}

#[tokio::test]
async fn link_local_literals_are_refused_with_the_reason_in_the_log() {
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    // Registration would refuse these URLs: they are queued directly.
    for (url, why) in [
        (
            "https://169.254.169.254/",
            "refused: 169.254.169.254 is link-local",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is link-local",
        ),
        (
            "http://[::ffff:169.254.169.254]/",
            "refused: ::ffff:169.254.169.254 is link-local",
        ),
        ("http://[fe80::1]:8080/", "refused: fe80::1 is link-local"),
        // Other spellings of 169.254.169.254, which the URL parser writes in dotted form.
        (
            "http://2852039166/",
            "refused: 169.254.169.254 is link-local",
        ),
        (
            "http://0xA9FEA9FE/",
            "refused: 169.254.169.254 is link-local",
        ),
        (
            "http://169.254.43518/",
            "refused: 169.254.169.254 is link-local",
        ),
        (
            "http://0.0.0.0:1/",
            "refused: 0.0.0.0 is the unspecified address",
        ),
    ] {
        assert_eq!(refused(&srv, url).await, why, "{url}");
    }
    let m = srv.metrics().await;
    assert!(m.contains("tcauth_callback_refused_total 8\n"), "{m}");
    assert!(m.contains("tcauth_callback_attempts_total{result=\"failed\"} 8\n"));
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn a_name_resolving_to_a_link_local_address_is_refused() {
    if gate::env_or_skip(
        &gate::TEST_HOSTS,
        "the callback test of a name resolving to 169.254.169.254",
    )
    .is_none()
    {
        return;
    }
    let srv = fast_server(|_| {}).await;
    let rx = Receiver::start(vec![]).await;
    let port = rx.addr.port();
    assert_eq!(
        refused(&srv, &format!("http://metadata.tcauth.test:{port}/cb")).await,
        "refused: 169.254.169.254 is link-local (resolved from metadata.tcauth.test)"
    );
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn callback_deny_networks_refuses_its_ranges() {
    let srv = fast_server(|s| {
        s.callback_deny_networks = ["10.0.0.0/8", "127.0.0.0/8"]
            .iter()
            .map(|n| tcauth_server::settings::Network::parse(n).unwrap())
            .collect();
    })
    .await;
    let rx = Receiver::start(vec![]).await;
    assert_eq!(
        refused(&srv, "http://10.0.0.1/cb").await,
        "refused: 10.0.0.1 is in callback_deny_networks (10.0.0.0/8)"
    );
    assert_eq!(
        refused(&srv, &rx.url("/cb")).await,
        "refused: 127.0.0.1 is in callback_deny_networks (127.0.0.0/8)"
    );
    // A name is checked on what it resolves to.
    let by_name = refused(&srv, &format!("http://localhost:{}/cb", rx.addr.port())).await;
    assert!(
        by_name.starts_with("refused: ") && by_name.ends_with("(resolved from localhost)"),
        "{by_name}"
    );
    assert_eq!(rx.count(), 0, "nothing was sent");
}

#[tokio::test]
async fn loopback_is_delivered_when_not_listed() {
    let srv = fast_server(|s| {
        s.callback_deny_networks =
            vec![tcauth_server::settings::Network::parse("10.0.0.0/8").unwrap()];
    })
    .await;
    let rx = Receiver::start(vec![]).await;
    let (client, _) = client_with_callback(&srv, &rx.url("/cb")).await;
    let d = queue(&srv, &client, None, &granted("nonce-loop-01"), TTL).await;
    let done = wait_final(&srv, &client, &d.id).await;
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(rx.count(), 1);
}
