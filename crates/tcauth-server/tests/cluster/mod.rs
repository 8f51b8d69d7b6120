//! Nodes sharing one Redis (issue 4; CONTRACT.md §1 row 3, §5–6; checklist O7–O10, P1, P5):
//! in-process servers, each on its own SQLite store, with only Redis in common.
//! - one client's rate limit and one IP's bucket hold for the nodes together;
//! - one-time-code send limits (cooldown, per IP) hold across nodes, and no phone number
//!   reaches Redis in clear;
//! - Redis unreachable: the token endpoint answers with this node's own limits, code sends
//!   fail closed (503) on the API and the sign-in page; Redis back: used again;
//! - the two Lua scripts agree with the in-process limits, decision by decision.
//!
//! Needs `TCAUTH_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`; `.ci/run` sets it); without
//! it each test prints a loud SKIPPED line and passes. Each test uses its own random key
//! prefix and deletes its keys at the end, so tests run in parallel.

mod harness;
mod scripts;

use crate::browser::support;
use crate::common::*;
use harness::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_core::model::RateLimit;
use tcauth_server::settings::SendWindow;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_clients_rate_limit_holds_across_three_nodes() {
    let Some(keys) = Keys::for_test("one_clients_rate_limit_holds_across_three_nodes") else {
        return;
    };
    let (per_second, burst) = (5u32, 20u32);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(
            keys.node(|s| {
                s.client_rate_limit = RateLimit { per_second, burst };
            })
            .await,
        ));
    }
    // Any client_id has a bucket (known or not): admitted requests get row 8, 403.
    let client = format!("cluster-client-{}", tcauth_core::secret::new_id());
    let started = Instant::now();
    let run_for = Duration::from_secs(4);
    let mut tasks = Vec::new();
    for w in 0..6usize {
        let (nodes, client) = (nodes.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let (mut admitted, mut limited, mut i) = (0u32, 0u32, w);
            while started.elapsed() < run_for {
                let r = nodes[i % 3]
                    .token(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", &client),
                        ("code", "no-such-code"),
                        ("code_verifier", &"v".repeat(43)),
                    ])
                    .await;
                match r.status().as_u16() {
                    403 => admitted += 1,
                    429 => {
                        assert!(retry_after(r.headers()) >= 1);
                        limited += 1;
                    }
                    s => panic!("unexpected status {s}"),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
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
    // Requests start within `run_for`; the last ones may be admitted a little after it.
    let at_least = burst as f64 + per_second as f64 * run_for.as_secs_f64();
    eprintln!(
        "cluster rate limit: {admitted} admitted, {limited} limited over 3 nodes in \
         {elapsed:.2} s; one bucket allows {at_least:.0}–{allowed:.0}"
    );
    assert!(limited > 0, "the limit was reached");
    let admitted = admitted as f64;
    assert!(
        admitted <= allowed * 1.10 && admitted >= at_least * 0.90,
        "admitted {admitted}, one bucket allows {at_least:.0}–{allowed:.0} (±10 %)"
    );
    // The client's one key. Each admitted request (row 8, an unknown client) is also charged
    // to the caller's IP bucket; that key expires as soon as its bucket is full again (a few
    // ms at this test's IP rate), so it may or may not still be there.
    let ip_key = format!("{}rl:ip:127.0.0.1", keys.prefix);
    let mut listed = keys.list();
    listed.retain(|k| *k != ip_key);
    assert_eq!(
        listed,
        vec![format!("{}rl:c:{client}", keys.prefix)],
        "one key for the client, and no other but the caller's IP bucket"
    );
}

#[tokio::test]
async fn the_ip_bucket_is_shared() {
    let Some(keys) = Keys::for_test("the_ip_bucket_is_shared") else {
        return;
    };
    let rl = RateLimit {
        per_second: 1,
        burst: 4,
    };
    let a = keys.node(|s| s.ip_rate_limit = rl).await;
    let b = keys.node(|s| s.ip_rate_limit = rl).await;
    // Without a client_id the IP's bucket counts: admitted → 400 (no grant_type).
    for n in [&a, &b, &a, &b] {
        assert_json_error(n.token(&[("x", "1")]).await, 400, e_empty()).await;
    }
    let h = assert_json_error(b.token(&[("x", "1")]).await, 429, e_too_many()).await;
    assert_eq!(retry_after(&h), 1);
    assert_json_error(a.token(&[("x", "1")]).await, 429, e_too_many()).await;
    // The verification API counts against the same bucket.
    let r = a
        .http
        .post(a.url("/v1/otp/client/verification/request"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(keys.list(), vec![format!("{}rl:ip:127.0.0.1", keys.prefix)]);
}

/// Issue 15, finding 1, with the counters in Redis: a flood from 20 addresses with a bogus
/// `clientId` on one node sent nothing and used up the country's limit for every node (the
/// sign-in page answered 429 too). Nothing is charged now before the client is known; a
/// client's quota is kept in Redis, and another client's sign-in page still sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bogus_client_flood_charges_nothing_and_quotas_are_per_client() {
    let Some(keys) = Keys::for_test("a_bogus_client_flood_charges_nothing") else {
        return;
    };
    let limits = |s: &mut tcauth_server::Settings| {
        s.otp_send_limits.resend_cooldown = Duration::ZERO;
        s.otp_send_limits.per_country = SendWindow {
            max: 4,
            period: Duration::from_secs(3600),
        };
        s.otp_send_limits.per_client = SendWindow {
            max: 2,
            period: Duration::from_secs(3600),
        };
        s.ip_rate_limit = unlimited();
    };
    let a = keys.node(limits).await;
    let b = keys.node(limits).await;
    let phone = unique_phone();
    for i in 0..20u8 {
        let from = reqwest::Client::builder()
            .no_proxy()
            .local_address(std::net::IpAddr::from([127, 0, 3, 10 + i]))
            .build()
            .unwrap();
        for _ in 0..10 {
            let r = from
                .post(a.url("/v1/otp/client/verification/request"))
                .header("clientId", "bogus")
                .json(&json!({"phoneNumber": phone, "countryCode": "IN"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        }
    }
    let otp_keys: Vec<String> = keys
        .list()
        .into_iter()
        .filter(|k| k.contains(":otp:"))
        .collect();
    assert!(otp_keys.is_empty(), "charged: {otp_keys:?}");
    // A real client on the other node (each node has a store of its own): two sends, then
    // its own quota, kept in Redis.
    let client = b.create_client(&["openid"], &["authorization_code"]).await;
    assert_eq!(otp_request(&b, &client, &phone).await.status(), 200);
    assert_eq!(
        otp_request(&b, &client, &unique_phone()).await.status(),
        200
    );
    let h = assert_json_error(
        otp_request(&b, &client, &unique_phone()).await,
        429,
        json!({"code": 429, "message": "Too many requests. Try again later."}),
    )
    .await;
    assert!(retry_after(&h) > 3500, "{h:?}");
    let quota = format!("{}otp:cl:{client}", keys.prefix);
    assert_eq!(keys.members(&quota).len(), 2, "{:?}", keys.list());
    // Another app's sign-in page still sends a code to the flooded number.
    let s = support::Setup::start("https://app.example/cb", |s| {
        keys.configure(s);
        limits(s);
    })
    .await;
    let mut agent = support::Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "st", None);
    let page = agent.begin(&path).await;
    agent.enter_phone(&page, &phone[3..]).await;
    assert_eq!(s.gateway.calls(), 1);
}

#[tokio::test]
async fn a_code_sent_on_one_node_holds_the_cooldown_on_the_others() {
    let Some(keys) = Keys::for_test("a_code_sent_on_one_node_holds_the_cooldown") else {
        return;
    };
    let a = keys.node(|_| {}).await;
    let b = keys.node(|_| {}).await;
    let client_a = a
        .create_client(&["openid", "phone"], &["authorization_code"])
        .await;
    let client_b = b
        .create_client(&["openid", "phone"], &["authorization_code"])
        .await;
    let phone = unique_phone();
    let national = &phone[3..];
    let (st, _, v) = json_of(otp_request(&a, &client_a, &phone).await).await;
    assert_eq!(st, 200, "{v}");
    // Another spelling of the number, on the other node.
    let h = assert_json_error(
        otp_request(&b, &client_b, &format!("0{national}")).await,
        429,
        json!({"code": 429, "message": "Too many requests. Try again later."}),
    )
    .await;
    let ra = retry_after(&h);
    assert!((1..=30).contains(&ra), "Retry-After {ra}");
    // The sign-in page on the other node says so too.
    let s = support::Setup::start("https://app.example/cb", |s| keys.configure(s)).await;
    let mut agent = support::Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "st", None);
    let page = agent.begin(&path).await;
    let r = agent
        .post(
            "/v1/auth/phone",
            &[
                ("csrf", &page.csrf()),
                ("country", "IN"),
                ("phone", national),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.body.contains("Too many codes were asked for"),
        "{}",
        r.body
    );
    assert_eq!(s.gateway.calls(), 0, "nothing was sent");
    // Redis holds no phone number in clear: keys and members.
    let all = keys.list();
    assert!(all.iter().any(|k| k.contains(":otp:n:")), "{all:?}");
    for k in &all {
        assert!(!k.contains(national), "{k}");
        let members = if k.contains(":otp:") {
            keys.members(k)
        } else {
            Vec::new()
        };
        for member in members {
            assert!(!member.contains(national), "{k}: {member}");
        }
    }
}

#[tokio::test]
async fn the_per_ip_send_window_is_shared() {
    let Some(keys) = Keys::for_test("the_per_ip_send_window_is_shared") else {
        return;
    };
    let limits = |s: &mut tcauth_server::Settings| {
        s.otp_send_limits.per_ip = SendWindow {
            max: 2,
            period: Duration::from_secs(3600),
        };
    };
    let nodes = [keys.node(limits).await, keys.node(limits).await];
    let clients = [
        nodes[0]
            .create_client(&["openid"], &["authorization_code"])
            .await,
        nodes[1]
            .create_client(&["openid"], &["authorization_code"])
            .await,
    ];
    for i in 0..2 {
        let r = otp_request(&nodes[i], &clients[i], &unique_phone()).await;
        assert_eq!(r.status(), 200);
    }
    for i in 0..2 {
        let r = otp_request(&nodes[i], &clients[i], &unique_phone()).await;
        assert_eq!(r.status(), 429, "the third send from this IP");
        assert!((3500..=3600).contains(&retry_after(r.headers())));
    }
}

#[tokio::test]
async fn redis_unreachable_token_endpoint_answers_and_code_sends_fail_closed() {
    let Some(keys) = Keys::for_test("redis_unreachable") else {
        return;
    };
    let t = Instant::now();
    let s = support::Setup::start("https://app.example/cb", |s| {
        keys.configure(s);
        s.redis_url = Some("redis://127.0.0.1:1/".into());
        s.client_rate_limit = RateLimit {
            per_second: 1,
            burst: 2,
        };
    })
    .await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "start-up is not held up"
    );
    let n = &s.server;
    // Request rate limits: this node's own buckets.
    let client = s.client_id.clone();
    let sub = n.create_bare_user().await;
    for _ in 0..2 {
        let code = n.mint_code(&client, &sub, &["openid"]).await;
        assert_eq!(n.exchange(&client, &code).await.status(), 200);
    }
    let r = n
        .token(&[("grant_type", "authorization_code"), ("client_id", &client)])
        .await;
    assert_json_error(r, 429, e_too_many()).await;
    // Code sends: refused, on the API and on the sign-in page.
    let h = assert_json_error(
        otp_request(n, &client, &unique_phone()).await,
        503,
        json!({"code": 503, "message": "Service unavailable. Try again."}),
    )
    .await;
    assert!(retry_after(&h) >= 1);
    let mut agent = support::Agent::new(n);
    let (path, _) = s.auth_path("openid", "st", None);
    let page = agent.begin(&path).await;
    let r = agent
        .post(
            "/v1/auth/phone",
            &[
                ("csrf", &page.csrf()),
                ("country", "IN"),
                ("phone", &unique_phone()),
            ],
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("We could not send the code."), "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert_eq!(s.gateway.calls(), 0, "no code left without its limits");
    let failures = metric(&n.metrics().await, "tcauth_redis_failures_total").unwrap();
    assert!(failures >= 2.0, "{failures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_coming_back_is_used_again() {
    let Some(keys) = Keys::for_test("redis_coming_back_is_used_again") else {
        return;
    };
    let proxy = Proxy::start(keys.target()).await;
    let a = keys
        .node(|s| s.redis_url = Some(keys.url_via(proxy.addr)))
        .await;
    let b = keys.node(|_| {}).await;
    let ca = a.create_client(&["openid"], &["authorization_code"]).await;
    let cb = b.create_client(&["openid"], &["authorization_code"]).await;
    assert_eq!(otp_request(&a, &ca, &unique_phone()).await.status(), 200);

    proxy.cut();
    let t = Instant::now();
    let r = otp_request(&a, &ca, &unique_phone()).await;
    assert_eq!(r.status(), 503, "Redis cut: sends fail closed");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "answered within the Redis timeout"
    );
    let r = a
        .token(&[("grant_type", "authorization_code"), ("client_id", &ca)])
        .await;
    assert_json_error(r, 400, e_empty()).await;

    proxy.restore();
    let phone = unique_phone();
    let back = eventually(Duration::from_secs(15), || async {
        (otp_request(&a, &ca, &phone).await.status() == 200).then_some(())
    })
    .await;
    assert!(back.is_some(), "Redis was not used again within 15 s");
    // Node a counted that send in Redis: node b sees the number's cooldown.
    assert_eq!(otp_request(&b, &cb, &phone).await.status(), 429);
}

/// From a given loopback address (any 127.x.y.z is this machine).
fn client_from(ip: std::net::Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::V4(ip))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_failures_are_limited_across_nodes() {
    let Some(keys) = Keys::for_test("admin_token_failures_are_limited_across_nodes") else {
        return;
    };
    let (a, b) = (keys.node(|_| {}).await, keys.node(|_| {}).await);
    let guesser = client_from(std::net::Ipv4Addr::new(127, 0, 0, 5));
    let get = |s: &TestServer, auth: String| {
        guesser
            .get(s.url("/admin/v1/clients"))
            .header("authorization", auth)
            .send()
    };
    // A right token spends nothing: its reservation is given back, and the key goes.
    for _ in 0..15 {
        let r = get(&a, format!("Bearer {ADMIN_TOKEN}")).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let key = format!("{}adm:ip:127.0.0.5", keys.prefix);
    assert!(!keys.list().contains(&key), "{:?}", keys.list());
    // Ten failures, spread over both nodes, then both refuse.
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = get(node, "Bearer wrong-wrong-wrong-wrong".into())
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "failure {i}");
    }
    assert_eq!(keys.list(), vec![key.clone()]);
    let pttl = keys.pttl(&key);
    assert!(
        pttl > 90_000 && pttl <= 101_000,
        "expires when full again: {pttl} ms"
    );
    for node in [&a, &b] {
        let r = get(node, format!("Bearer {ADMIN_TOKEN}")).await.unwrap();
        let h = assert_json_error(r, 429, json!({"error":"too_many_requests"})).await;
        assert!((1..=10).contains(&retry_after(&h)));
    }
    // Another address is not held up.
    let other = client_from(std::net::Ipv4Addr::new(127, 0, 0, 6));
    let r = other
        .get(b.url("/admin/v1/clients"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
