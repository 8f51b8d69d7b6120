//! Send limits (checklist O7–O12): resend cooldown, per number, per IP, per country, the API's
//! own IP rate limit; one key per number whatever its spelling; charged only for a request that
//! passed every other check (issue 15, finding 1); the per-client quota.

use super::*;
use crate::common::*;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tcauth_core::model::RateLimit;
use tcauth_server::settings::SendWindow;

/// An HTTP client whose connections come from `ip` (any 127.x.y.z address is this machine).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(ip))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn cooldown_applies_to_every_spelling_of_a_number() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    request_ok(&s, &rx, &client, json!({"phoneNumber": "+91 98765 43210"})).await;
    for same in [
        json!({"phoneNumber": "00919876543210"}),
        json!({"phoneNumber": "9876543210", "countryCode": "IN"}),
        json!({"phoneNumber": "098765-43210", "countryCode": "in"}),
        json!({"phoneNumber": "+919876543210", "countryCode": "US"}),
    ] {
        let h = assert_error(request(&s, &client, same).await, 429, e_limited()).await;
        let ra = retry_after(&h);
        assert!((1..=30).contains(&ra), "Retry-After {ra}");
    }
    assert_eq!(rx.count(), 1, "nothing more was sent");
    // Another number is not held up.
    request_ok(&s, &rx, &client, number("9876543211")).await;
}

#[tokio::test]
async fn sixth_send_in_ten_minutes_is_refused() {
    let (s, rx) = start(|s| s.otp_send_limits.resend_cooldown = Duration::ZERO).await;
    let client = partner(&s).await;
    for _ in 0..5 {
        request_ok(&s, &rx, &client, number("9876543210")).await;
    }
    let h = assert_error(
        request(&s, &client, number("9876543210")).await,
        429,
        e_limited(),
    )
    .await;
    let ra = retry_after(&h);
    assert!((590..=600).contains(&ra), "Retry-After {ra}");
    assert_eq!(rx.count(), 5);
    // Every code sent is its own: the first ones are still valid (the limit is on sends).
    request_ok(&s, &rx, &client, number("9876543211")).await;
}

/// Finding 1 of issue 15: a flood from many addresses with a bogus `clientId` used up the
/// country's send limit and put the number on its cooldown. The client is checked first now:
/// a request that fails any other check is charged to no send limit.
#[tokio::test]
async fn a_bogus_client_flood_charges_no_send_limit() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.per_country = SendWindow {
            max: 5,
            period: Duration::from_secs(3600),
        };
        s.otp_send_limits.per_ip = SendWindow {
            max: 3,
            period: Duration::from_secs(3600),
        };
    })
    .await;
    let client = partner(&s).await;
    for i in 0..20u8 {
        let from = client_from(Ipv4Addr::new(127, 0, 1, 10 + i));
        for n in ["9876543210", "9876543211", "9876543212", "9876543213"] {
            for bogus in [Some("bogus"), None] {
                let r = post_with(&from, &s, REQUEST, bogus, &number(n)).await;
                assert_error(r, 404, e_partner()).await;
            }
        }
    }
    assert_eq!(rx.count(), 0, "nothing was sent");
    // A real user of a real client: no cooldown, no per-IP or per-country limit used up.
    for (i, n) in ["9876543210", "9876543211", "9876543212"]
        .iter()
        .enumerate()
    {
        let from = client_from(Ipv4Addr::new(127, 0, 1, 10 + i as u8));
        let r = post_with(&from, &s, REQUEST, Some(&client), &number(n)).await;
        assert_eq!(r.status(), 200, "{n}");
    }
    assert_eq!(rx.count(), 3);
}

/// A bad number is answered before anything else, and charges nothing either.
#[tokio::test]
async fn a_refused_request_charges_nothing() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.per_ip = SendWindow {
            max: 1,
            period: Duration::from_secs(3600),
        }
    })
    .await;
    let client = partner(&s).await;
    for _ in 0..5 {
        assert_error(request(&s, &client, number("12")).await, 400, e_phone()).await;
        assert_error(
            request(&s, "bogus", number("9876543210")).await,
            404,
            e_partner(),
        )
        .await;
    }
    request_ok(&s, &rx, &client, number("9876543210")).await;
    // The one send this address may make is spent; now the limit answers, for a known client.
    assert_error(
        request(&s, &client, number("9876543211")).await,
        429,
        e_limited(),
    )
    .await;
    // An unknown client is still told so (the limits come after the client).
    assert_error(
        request(&s, "bogus", number("9876543211")).await,
        404,
        e_partner(),
    )
    .await;
}

/// Each client has its own quota of sends, so one compromised client cannot use up a
/// country's limit for the others.
#[tokio::test]
async fn per_client_quota() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.resend_cooldown = Duration::ZERO;
        s.otp_send_limits.per_client = SendWindow {
            max: 2,
            period: Duration::from_secs(3600),
        };
    })
    .await;
    let a = partner(&s).await;
    let b = partner(&s).await;
    request_ok(&s, &rx, &a, number("9876543210")).await;
    request_ok(&s, &rx, &a, number("9876543211")).await;
    let h = assert_error(
        request(&s, &a, number("9876543212")).await,
        429,
        e_limited(),
    )
    .await;
    let ra = retry_after(&h);
    assert!((3590..=3600).contains(&ra), "Retry-After {ra}");
    // The other client, and the same number, are not held up.
    request_ok(&s, &rx, &b, number("9876543212")).await;
    assert_eq!(rx.count(), 3);
}

#[tokio::test]
async fn per_ip_limit() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.resend_cooldown = Duration::ZERO;
        s.otp_send_limits.per_ip = SendWindow {
            max: 3,
            period: Duration::from_secs(3600),
        };
    })
    .await;
    let client = partner(&s).await;
    let a = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let b = client_from(Ipv4Addr::new(127, 0, 0, 3));
    for n in ["9876543210", "9876543211", "9876543212"] {
        let r = post_with(&a, &s, REQUEST, Some(&client), &number(n)).await;
        assert_eq!(r.status(), 200);
    }
    let r = post_with(&a, &s, REQUEST, Some(&client), &number("9876543213")).await;
    let h = assert_error(r, 429, e_limited()).await;
    let ra = retry_after(&h);
    assert!((3590..=3600).contains(&ra), "Retry-After {ra}");
    // From another address, the same number goes through.
    let r = post_with(&b, &s, REQUEST, Some(&client), &number("9876543213")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(rx.count(), 4);
}

#[tokio::test]
async fn per_country_limit() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.resend_cooldown = Duration::ZERO;
        s.otp_send_limits.per_country = SendWindow {
            max: 2,
            period: Duration::from_secs(3600),
        };
    })
    .await;
    let client = partner(&s).await;
    let a = client_from(Ipv4Addr::new(127, 0, 0, 4));
    let b = client_from(Ipv4Addr::new(127, 0, 0, 5));
    // Two Indian numbers from two addresses, then a third from yet another: refused.
    assert_eq!(
        post_with(&a, &s, REQUEST, Some(&client), &number("9876543210"))
            .await
            .status(),
        200
    );
    assert_eq!(
        post_with(&b, &s, REQUEST, Some(&client), &number("9876543211"))
            .await
            .status(),
        200
    );
    let h = assert_error(
        request(&s, &client, number("9876543212")).await,
        429,
        e_limited(),
    )
    .await;
    assert!(retry_after(&h) > 3000);
    // Another country is not held up.
    request_ok(&s, &rx, &client, json!({"phoneNumber": "+1 415 555 0123"})).await;
    assert_eq!(rx.last().json()["phone_number"], "+14155550123");
}

#[tokio::test]
async fn the_api_is_rate_limited_per_ip() {
    let (s, _rx) = start(|s| {
        s.ip_rate_limit = RateLimit {
            per_second: 1,
            burst: 2,
        }
    })
    .await;
    let client = partner(&s).await;
    let body = verify_body(&"0".repeat(32), "123456");
    assert_error(verify(&s, &client, body.clone()).await, 400, e_otp()).await;
    assert_error(verify(&s, &client, body.clone()).await, 400, e_otp()).await;
    // The bucket refills at 1/s: on a slow machine a request may slip through; not five.
    let mut limited = None;
    for _ in 0..5 {
        let r = verify(&s, &client, body.clone()).await;
        if r.status() == 429 {
            limited = Some(assert_error(r, 429, e_limited()).await);
            break;
        }
    }
    assert!(retry_after(&limited.expect("a 429")) >= 1);
    let r = detail(&s, Some(&client), &"A".repeat(43)).await;
    if r.status() != 404 {
        let h = assert_error(r, 429, e_limited()).await;
        assert!(retry_after(&h) >= 1);
    }
}
