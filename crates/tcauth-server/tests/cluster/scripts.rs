//! The Redis scripts against the in-process limits they replace: the same decisions, the same
//! `Retry-After`, keys that expire.

use super::harness::Keys;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tcauth_core::model::RateLimit;
use tcauth_core::phone::Phone;
use tcauth_core::ratelimit::{Bucket, Decision};
use tcauth_server::otp::SendLimits;
use tcauth_server::settings::{OtpSendLimits, SendWindow};
use tcauth_server::shared::sends::SharedSends;
use tcauth_server::shared::{rate, Shared};

async fn connect(keys: &Keys) -> Arc<Shared> {
    Shared::start(
        &keys.url,
        &keys.prefix,
        Duration::from_secs(2),
        Arc::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn gcra_admits_what_the_token_bucket_admits() {
    let Some(keys) = Keys::for_test("gcra_admits_what_the_token_bucket_admits") else {
        return;
    };
    let shared = connect(&keys).await;
    // Few calls at low rates: the milliseconds they take refill nothing that matters.
    for (per_second, burst) in [(1, 1), (1, 3), (2, 5), (10, 4)] {
        let rl = RateLimit { per_second, burst };
        let key = rate::client_key(&format!("c{per_second}-{burst}"));
        let mut bucket = Bucket::full(burst, 0.0);
        for i in 0..burst + 2 {
            let want = bucket.take(per_second, burst, 0.0);
            let got = rate::take(&shared, &key, rl).await.unwrap();
            assert_eq!(got, want, "{per_second}/s burst {burst}, request {i}");
        }
        // The key lives until the bucket would be full again, no longer.
        let ttl = keys.pttl(&shared.key(&key));
        let full_in = 1000 * u64::from(burst) / u64::from(per_second);
        assert!(
            ttl > 0 && ttl as u64 <= full_in + 2,
            "PTTL {ttl}, full in {full_in} ms"
        );
    }
    // Refill: one request per second.
    let rl = RateLimit {
        per_second: 1,
        burst: 1,
    };
    let key = rate::ip_key("192.0.2.7".parse().unwrap());
    assert_eq!(rate::take(&shared, &key, rl).await, Ok(Decision::Allow));
    assert_eq!(
        rate::take(&shared, &key, rl).await,
        Ok(Decision::Deny { retry_after: 1 })
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(rate::take(&shared, &key, rl).await, Ok(Decision::Allow));
}

/// A fixed, varied sequence of sends: (number, country, IP).
fn sends() -> Vec<(Phone, IpAddr)> {
    let numbers = [
        ("+919876500001", "IN"),
        ("+919876500002", "IN"),
        ("+919876500003", "IN"),
        ("+12025550104", "US"),
    ];
    let ips: [IpAddr; 4] = [
        "192.0.2.1".parse().unwrap(),
        "192.0.2.2".parse().unwrap(),
        "2001:db8:1:2::1".parse().unwrap(),
        // The same /64 as the one before.
        "2001:db8:1:2:ffff::9".parse().unwrap(),
    ];
    let mut x: u32 = 12345;
    (0..40)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (n, c) = numbers[(x >> 8) as usize % numbers.len()];
            let ip = ips[(x >> 16) as usize % ips.len()];
            (
                Phone {
                    e164: n.to_string(),
                    country: c.to_string(),
                },
                ip,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_send_script_decides_as_the_in_process_limits() {
    let Some(keys) = Keys::for_test("the_send_script_decides_as_the_in_process_limits") else {
        return;
    };
    let w = |max, secs| SendWindow {
        max,
        period: Duration::from_secs(secs),
    };
    let configs = [
        OtpSendLimits {
            resend_cooldown: Duration::from_secs(30),
            per_number: w(3, 600),
            per_ip: w(5, 3600),
            per_country: w(7, 3600),
            per_client: w(6, 3600),
            wrong_codes_per_number: w(3, 86_400),
        },
        OtpSendLimits {
            resend_cooldown: Duration::ZERO,
            per_number: w(2, 600),
            per_ip: w(4, 3600),
            per_country: w(5, 900),
            per_client: w(100, 600),
            wrong_codes_per_number: w(2, 600),
        },
    ];
    for (round, cfg) in configs.into_iter().enumerate() {
        let local = SendLimits::new(cfg);
        // Each round its own keys: another prefix under the test's.
        let prefix = format!("{}r{round}:", keys.prefix);
        let sub = Shared::start(&keys.url, &prefix, Duration::from_secs(2), Arc::default())
            .await
            .unwrap();
        let redis = SharedSends::new(sub, cfg, &[7; 32]);
        let (mut admitted, mut refused) = (0, 0);
        // Three wrong codes to the first number: locked in round 0, and in round 1 after two.
        let locked = sends()[0].0.e164.clone();
        for _ in 0..3 {
            let a = local.record_wrong(&locked);
            let b = redis.record_wrong(&locked).await.unwrap();
            assert_eq!(a, b, "wrong codes left");
        }
        let (a, b) = (
            local.locked_for(&locked),
            redis.locked_for(&locked).await.unwrap(),
        );
        assert!(a.is_some() && b.is_some(), "{a:?} vs {b:?}");
        assert!(a.unwrap().abs_diff(b.unwrap()) <= 1, "{a:?} vs {b:?}");
        let clients = ["app-a", "app-b"];
        for (i, (phone, ip)) in sends().into_iter().enumerate() {
            let client = clients[i % 2];
            let want = local.admit(&phone, ip, client);
            let got = redis
                .admit(&phone.e164, &phone.country, ip, client)
                .await
                .unwrap();
            match (want, got) {
                (Ok(lt), Ok(rt)) => {
                    admitted += 1;
                    // Every third admitted send is refunded (its code could not be stored).
                    if admitted % 3 == 0 {
                        local.refund(&lt);
                        redis.refund(&rt).await.unwrap();
                    }
                }
                // The calls are milliseconds apart: a whole second may round either way.
                (Err(a), Err(b)) if a.abs_diff(b) <= 1 => refused += 1,
                other => panic!("round {round}, send {i} ({phone:?}, {ip}): {other:?}"),
            }
        }
        assert!(admitted > 0 && refused > 0, "{admitted} / {refused}");
        for (phone, _) in sends().into_iter().take(4) {
            let a = local.next_send_in(&phone.e164);
            let b = redis.next_send_in(&phone.e164).await.unwrap();
            assert!(a.abs_diff(b) <= 1, "{}: {a} vs {b}", phone.e164);
        }
        // Every key expires; a number's key is its HMAC.
        for k in keys.list().iter().filter(|k| k.starts_with(&prefix)) {
            let ttl = keys.pttl(k);
            assert!(ttl > 0 && ttl <= 86_400_001, "{k}: PTTL {ttl}");
            assert!(!k.contains("98765"), "{k}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_without_waiting() {
    let Some(keys) = Keys::for_test("an_unreachable_redis_fails_fast_without_waiting") else {
        return;
    };
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let dead = Shared::start(
        "redis://127.0.0.1:1/",
        &keys.prefix,
        Duration::from_millis(100),
        failures.clone(),
    )
    .await
    .unwrap();
    assert!(!dead.is_connected());
    let t = std::time::Instant::now();
    let rl = RateLimit {
        per_second: 1,
        burst: 1,
    };
    assert!(rate::take(&dead, "rl:c:x", rl).await.is_err());
    let sends = SharedSends::new(dead.clone(), OtpSendLimits::default(), &[7; 32]);
    assert!(sends
        .admit("+919876500001", "IN", "192.0.2.1".parse().unwrap(), "app")
        .await
        .is_err());
    assert!(sends.record_wrong("+919876500001").await.is_err());
    assert!(sends.locked_for("+919876500001").await.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(50),
        "no waiting while down"
    );
    assert!(failures.load(std::sync::atomic::Ordering::Relaxed) >= 2);
}
