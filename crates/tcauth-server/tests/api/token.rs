//! POST /v1/token: CONTRACT.md §1 — success shape, every row of the error table and their
//! order, the rules behind the table; checklist T1–T12, S1, S3, P2–P4.

use crate::common::raw;
use crate::common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_core::model::RateLimit;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const FORM: &str = "application/x-www-form-urlencoded";

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// POSTs a raw body with the given content type (None: no Content-Type header).
async fn post_raw(
    s: &TestServer,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut rb = s.http.post(s.url(path)).body(body);
    if let Some(ct) = ct {
        rb = rb.header("content-type", ct);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn success_has_exact_members_and_headers() {
    let s = TestServer::start().await;
    let client = s
        .create_client(&["openid", "profile", "phone"], &["authorization_code"])
        .await;
    let sub = s.create_user().await;
    // Requested out of order: the response lists the granted scopes in canonical order.
    let code = s
        .mint_code(&client, &sub, &["phone", "openid", "profile"])
        .await;
    assert_strong_secret("authorization code", &code.code);
    assert_eq!(
        code.code.len(),
        48,
        "codes are 48 characters of base64url (README, \"Codes and tokens\")"
    );
    let r = s.exchange(&client, &code).await;
    let (st, h, v) = json_of(r).await;
    assert_eq!(st, 200, "{v}");
    assert_json_content_type(&h);
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    assert_eq!(header(&h, "pragma"), Some("no-cache"));
    assert_eq!(
        keys_of(&v),
        set(&[
            "access_token",
            "expires_in",
            "token_type",
            "scope",
            "id_token"
        ]),
        "{v}"
    );
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "openid profile phone");
    let at = v["access_token"].as_str().unwrap();
    assert_strong_secret("access token", at);
    assert_ne!(at, code.code);
    assert_eq!(v["id_token"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn expires_in_is_the_configured_lifetime() {
    let s = TestServer::start_with(|st| st.access_token_ttl = Duration::from_secs(120)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s.tokens(&client, &sub, &["phone"]).await;
    assert_eq!(v["expires_in"], 120);
}

#[tokio::test]
async fn refresh_token_only_with_offline_access_and_the_refresh_grant() {
    let s = TestServer::start().await;
    let full = s.full_client().await;
    let code_only = s
        .create_client(
            &["openid", "phone", "offline_access"],
            &["authorization_code"],
        )
        .await;
    let sub = s.create_user().await;

    let v = s
        .tokens(&full, &sub, &["openid", "phone", "offline_access"])
        .await;
    assert_eq!(
        keys_of(&v),
        set(&[
            "access_token",
            "expires_in",
            "token_type",
            "scope",
            "id_token",
            "refresh_token"
        ])
    );
    assert_eq!(v["scope"], "openid phone offline_access");
    let rt = v["refresh_token"].as_str().unwrap();
    assert_strong_secret("refresh token", rt);
    assert_ne!(rt, v["access_token"].as_str().unwrap());

    let v = s.tokens(&full, &sub, &["openid", "phone"]).await;
    assert!(v.get("refresh_token").is_none(), "no offline_access: {v}");

    let v = s
        .tokens(&code_only, &sub, &["openid", "phone", "offline_access"])
        .await;
    assert!(
        v.get("refresh_token").is_none(),
        "client without the refresh_token grant: {v}"
    );

    // No openid → no id_token.
    let v = s.tokens(&full, &sub, &["phone"]).await;
    assert_eq!(
        keys_of(&v),
        set(&["access_token", "expires_in", "token_type", "scope"]),
        "{v}"
    );
    assert_eq!(v["scope"], "phone");
}

// --- row 1 ------------------------------------------------------------------------------

/// A form body of exactly `len` bytes for an unknown client (so, under the limit, row 8).
fn padded_form(len: usize) -> Vec<u8> {
    let mut b = b"grant_type=authorization_code&client_id=nobody&code=x&code_verifier=".to_vec();
    assert!(b.len() < len);
    b.resize(len, b'a');
    b
}

#[tokio::test]
async fn row1_content_length_body_over_16_kib_is_413() {
    let s = TestServer::start().await;
    let r = post_raw(&s, "/v1/token", Some(FORM), padded_form(16384)).await;
    assert_json_error(r, 403, e_invalid_client()).await;
    let r = post_raw(&s, "/v1/token", Some(FORM), padded_form(16385)).await;
    assert_json_error(r, 413, e_too_large()).await;
    // A large body on a connection of its own (see the Connection: close test below).
    let r = http_client()
        .post(s.url("/v1/token"))
        .header("content-type", FORM)
        .body(padded_form(1 << 20))
        .send()
        .await
        .unwrap();
    assert_json_error(r, 413, e_too_large()).await;
    // Row 1 comes before row 2.
    let r = post_raw(
        &s,
        "/v1/token",
        Some("application/json"),
        padded_form(20000),
    )
    .await;
    assert_json_error(r, 413, e_too_large()).await;
    assert_eq!(s.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn row1_chunked_body_over_16_kib_is_413() {
    let s = TestServer::start().await;
    let small = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(300), 100);
    let r = raw::send(s.addr, small).await.unwrap();
    assert_eq!(
        (r.status, r.json()),
        (403, e_invalid_client()),
        "chunked bodies are read"
    );
    let at_limit = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(16384), 1000);
    let r = raw::send(s.addr, at_limit).await.unwrap();
    assert_eq!((r.status, r.json()), (403, e_invalid_client()));
    for chunk in [1000, 16385] {
        let big = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(16385), chunk);
        let r = raw::send(s.addr, big).await.unwrap();
        assert_eq!(
            (r.status, r.json()),
            (413, e_too_large()),
            "chunks of {chunk}"
        );
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
    }
}

#[tokio::test]
async fn row1_413_that_leaves_the_body_unread_announces_connection_close() {
    // A 413 sent without reading the body ends the connection. Without `Connection: close`
    // a pooling client (reqwest/hyper) reuses the dead connection and an innocent next request
    // fails with BrokenPipe / IncompleteMessage (seen in the fuzz test under load).
    // RFC 9112 §9.6: a server that will close after the response sends `close`.
    let s = TestServer::start().await;
    for size in [200_000usize, 1 << 20] {
        let req = raw::request(
            s.addr,
            "POST",
            "/v1/token",
            &[
                ("Content-Type", FORM.as_bytes()),
                ("Connection", b"keep-alive"),
            ],
            &padded_form(size),
        );
        let req = String::from_utf8(req)
            .unwrap()
            .replacen("Connection: close\r\n", "", 1);
        let (resp, closed) = raw::send_and_probe(s.addr, req.into_bytes()).await.unwrap();
        assert_eq!((resp.status, resp.json()), (413, e_too_large()));
        if closed {
            assert!(
                resp.header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close")),
                "{size}-byte body: the server closed the connection after its 413 without \
                 `Connection: close` (headers {:?})",
                resp.headers
            );
        }
    }
}

// --- row 2 ------------------------------------------------------------------------------

#[tokio::test]
async fn row2_content_type_must_be_form() {
    let s = TestServer::start().await;
    let body = b"grant_type=authorization_code&client_id=x&code=y&code_verifier=z".to_vec();
    for ct in [
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/x-www-form-urlencoded-evil"),
        None,
    ] {
        let r = post_raw(&s, "/v1/token", ct, body.clone()).await;
        assert_invalid_request(r, "content-type").await;
    }
    let r = post_raw(
        &s,
        "/v1/token",
        Some("application/json"),
        br#"{"grant_type":"authorization_code"}"#.to_vec(),
    )
    .await;
    assert_invalid_request(r, "content-type").await;
}

#[tokio::test]
async fn row2_charset_utf8_is_accepted() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    for ct in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
    ] {
        let code = s.mint_code(&client, &sub, &["phone"]).await;
        let body = format!(
            "grant_type=authorization_code&client_id={client}&code={}&code_verifier={}",
            code.code, code.verifier
        );
        let r = post_raw(&s, "/v1/token", Some(ct), body.into_bytes()).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 200, "{ct}: {v}");
    }
}

#[tokio::test]
async fn row2_malformed_bodies() {
    let s = TestServer::start().await;
    let cases: &[(&[u8], &str)] = &[
        (
            b"grant_type=authorization_code&client_id=%G1&code=x&code_verifier=y",
            "percent",
        ),
        (
            b"grant_type=authorization_code&client_id=x&code=x&code_verifier=%4",
            "percent",
        ),
        (
            b"grant_type=authorization_code&client_id=%FF&code=x&code_verifier=y",
            "utf-8",
        ),
        (
            b"grant_type=authorization_code&client_id=\xff\xfe&code=x&code_verifier=y",
            "utf-8",
        ),
        (
            b"grant_type=authorization_code&client_id=a&client_id=a&code=x&code_verifier=y",
            "client_id",
        ),
        (
            b"grant_type=authorization_code&client_id=a&client_id=b&code=x&code_verifier=y",
            "client_id",
        ),
        // Row 2 comes before row 6 (and 5).
        (b"grant_type=password&grant_type=password", "grant_type"),
        (b"grant_type=&grant_type=", "grant_type"),
    ];
    for (body, needle) in cases {
        let r = post_raw(&s, "/v1/token", Some(FORM), body.to_vec()).await;
        assert_invalid_request(r, needle).await;
    }
}

// --- row 3 ------------------------------------------------------------------------------

#[tokio::test]
async fn row3_per_client_rate_limit() {
    let s = TestServer::start().await;
    let limited = s
        .create_client_json(json!({
            "name": "Limited", "redirect_uris": [REDIRECT_URI], "scopes": ["phone"],
            "grant_types": ["authorization_code"], "rate_limit": {"per_second": 1, "burst": 2},
        }))
        .await;
    let limited = limited["client_id"].as_str().unwrap().to_string();
    let other = s.create_client(&["phone"], &["authorization_code"]).await;
    let bogus = Code {
        code: "nope".into(),
        verifier: random_verifier(),
        challenge: String::new(),
    };
    for _ in 0..2 {
        assert_json_error(s.exchange(&limited, &bogus).await, 403, e_invalid_code()).await;
    }
    let h = assert_json_error(s.exchange(&limited, &bogus).await, 429, e_too_many()).await;
    assert!(retry_after(&h) >= 1);
    // Row 2 comes before row 3; row 3 before rows 5 and 7.
    let r = post_raw(
        &s,
        "/v1/token",
        Some("text/plain"),
        format!("client_id={limited}").into_bytes(),
    )
    .await;
    assert_invalid_request(r, "content-type").await;
    assert_json_error(s.token(&[("client_id", &limited)]).await, 429, e_too_many()).await;
    assert_json_error(
        s.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &limited),
        ])
        .await,
        429,
        e_too_many(),
    )
    .await;
    // The limit is per client: another one is admitted.
    assert_json_error(s.exchange(&other, &bogus).await, 403, e_invalid_code()).await;
    // After Retry-After seconds the bucket admits again.
    tokio::time::sleep(Duration::from_secs(retry_after(&h))).await;
    assert_json_error(s.exchange(&limited, &bogus).await, 403, e_invalid_code()).await;
    let m = s.metrics().await;
    assert!(
        metric(&m, "tcauth_rate_limited_total").unwrap() >= 3.0,
        "{m}"
    );
}

#[tokio::test]
async fn row3_per_ip_rate_limit_without_client_id() {
    let s = TestServer::start_with(|st| {
        st.ip_rate_limit = RateLimit {
            per_second: 1,
            burst: 2,
        }
    })
    .await;
    let no_client = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("code_verifier", "y"),
    ];
    for _ in 0..2 {
        assert_json_error(s.token(&no_client).await, 400, e_empty()).await;
    }
    let h = assert_json_error(s.token(&no_client).await, 429, e_too_many()).await;
    assert!(retry_after(&h) >= 1);
    // Requests that name a known client use that client's bucket, not the IP's.
    let client = s.create_client(&["openid"], &["authorization_code"]).await;
    let r = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", "x"),
            ("code_verifier", "y"),
        ])
        .await;
    assert_json_error(r, 403, e_invalid_code()).await;
    // An unknown client_id is charged to the IP as well: it is cut off too.
    let r = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "someone"),
            ("code", "x"),
            ("code_verifier", "y"),
        ])
        .await;
    assert_json_error(r, 429, e_too_many()).await;
}

/// Finding 5 of issue 15: 400 requests with random client_ids from one address all got 403,
/// none 429 (each id had a fresh bucket of its own). An unknown client_id is now charged to
/// the caller's IP, like a request without one.
#[tokio::test]
async fn row3_unknown_client_ids_meet_the_per_ip_limit() {
    let s = TestServer::start_with(|st| {
        st.ip_rate_limit = RateLimit {
            per_second: 1,
            burst: 5,
        }
    })
    .await;
    let (mut denied, mut limited) = (0, 0);
    for _ in 0..40 {
        let id = tcauth_core::secret::new_id();
        for grant in [
            [
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("code_verifier", "y"),
            ],
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("scope", "openid"),
            ],
        ] {
            let mut form = vec![("client_id", id.as_str())];
            form.extend(grant);
            let r = s.token(&form).await;
            match r.status().as_u16() {
                403 => {
                    assert_json_error(r, 403, e_invalid_client()).await;
                    denied += 1;
                }
                _ => {
                    let h = assert_json_error(r, 429, e_too_many()).await;
                    assert!(retry_after(&h) >= 1);
                    limited += 1;
                }
            }
        }
    }
    // The burst of 5, and at most a few more refilled while the 80 requests ran.
    assert!(
        (5..=15).contains(&denied),
        "{denied} denied, {limited} limited"
    );
    assert_eq!(denied + limited, 80);
    // Revocation too.
    let r = s
        .revoke(&[("client_id", "nobody-at-all"), ("token", "x")])
        .await;
    assert_json_error(r, 429, e_too_many()).await;
}

// --- row 4 ------------------------------------------------------------------------------

#[tokio::test]
async fn row4_sheds_when_max_in_flight_requests_run() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| {
        st.max_in_flight = 2;
        st.store_timeout = Duration::from_secs(20);
    })
    .await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    let fault = s.fault.clone().unwrap();
    fault.hang();
    let mut stuck = JoinSet::new();
    for _ in 0..2 {
        let (http, url, client) = (s.http.clone(), s.url("/v1/token"), client.clone());
        stuck.spawn(async move {
            http.post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", client.as_str()),
                    ("code", "unknown"),
                    ("code_verifier", &random_verifier()),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    // Both are now waiting on the store.
    let reached = eventually(Duration::from_secs(10), || async {
        (fault
            .faulted_calls
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2)
            .then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "the two requests never reached the store"
    );
    let t = Instant::now();
    let h = assert_json_error(s.exchange(&client, &code).await, 503, e_unavailable()).await;
    assert_eq!(header(&h, "retry-after"), Some("1"));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "shedding must be fast: {:?}",
        t.elapsed()
    );
    fault.pass();
    while let Some(r) = stuck.join_next().await {
        assert_eq!(
            r.unwrap().unwrap(),
            403,
            "a stuck request completes once the store answers"
        );
    }
    // Admitted again, and the shed request did not consume the code.
    let v = s.exchange_ok(&client, &code).await;
    assert!(v["access_token"].is_string());
    let m = s.metrics().await;
    assert!(metric(&m, "tcauth_shed_total").unwrap() >= 1.0, "{m}");
}

#[tokio::test]
async fn row4_store_unavailable_or_slow_then_recovers() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let c1 = s.mint_code(&client, &sub, &["openid", "phone"]).await;
    let c2 = s.mint_code(&client, &sub, &["openid", "phone"]).await;
    let fault = s.fault.clone().unwrap();

    fault.hang();
    let t = Instant::now();
    let h = assert_json_error(s.exchange(&client, &c1).await, 503, e_unavailable()).await;
    assert!(retry_after(&h) >= 1);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "bounded by store_timeout: {:?}",
        t.elapsed()
    );

    fault.fail();
    let h = assert_json_error(s.exchange(&client, &c1).await, 503, e_unavailable()).await;
    assert!(retry_after(&h) >= 1);

    fault.pass();
    s.exchange_ok(&client, &c2).await;

    // Each failed call is counted (the log shows at most one a second: `Throttle`).
    let m = s.metrics().await;
    assert_eq!(metric(&m, "tcauth_store_failures_total"), Some(2.0), "{m}");
}

#[tokio::test]
async fn row4_sqlite_locked_by_another_process_then_recovers() {
    let s = TestServer::start_with(|st| st.store_timeout = Duration::from_millis(300)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let c1 = s.mint_code(&client, &sub, &["phone"]).await;
    let c2 = s.mint_code(&client, &sub, &["phone"]).await;

    // Another process holds the write lock.
    let path = s.db_path.clone();
    let (lock_tx, lock_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
    let locker = tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        held_tx.send(()).unwrap();
        lock_rx.recv().unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    held_rx.await.unwrap();

    let t = Instant::now();
    let h = assert_json_error(s.exchange(&client, &c1).await, 503, e_unavailable()).await;
    assert!(retry_after(&h) >= 1);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );

    lock_tx.send(()).unwrap();
    locker.await.unwrap();
    // Recovery without restart.
    s.exchange_ok(&client, &c2).await;
    // The code whose exchange timed out: either it was never redeemed (200 now) or the
    // redemption finished unacknowledged (row 11) — never a 500.
    let st = s.exchange(&client, &c1).await.status().as_u16();
    assert!(st == 200 || st == 403, "c1 after recovery: {st}");
}

#[tokio::test]
async fn row13_internal_error_is_a_bare_server_error() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |_| {}).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    s.fault.as_ref().unwrap().break_down();
    assert_json_error(
        s.exchange(&client, &code).await,
        500,
        json!({"error":"server_error"}),
    )
    .await;
    s.fault.as_ref().unwrap().pass();
    s.exchange_ok(&client, &code).await;
}

// --- rows 5–7 ---------------------------------------------------------------------------

#[tokio::test]
async fn row5_grant_type_missing_or_empty() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for p in [
        vec![
            ("client_id", client.as_str()),
            ("code", "x"),
            ("code_verifier", "y"),
        ],
        vec![
            ("grant_type", ""),
            ("client_id", client.as_str()),
            ("code", "x"),
            ("code_verifier", "y"),
        ],
        // Row 5 comes before row 8.
        vec![("client_id", "unknown-client"), ("code", "x")],
        vec![],
    ] {
        assert_json_error(s.token(&p).await, 400, e_empty()).await;
    }
    let r = post_raw(&s, "/v1/token", Some(FORM), Vec::new()).await;
    assert_json_error(r, 400, e_empty()).await;
}

#[tokio::test]
async fn row6_unsupported_grant_type() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for g in [
        "password",
        "client_credentials",
        "implicit",
        "AUTHORIZATION_CODE",
        "refresh-token",
    ] {
        let r = s
            .token(&[
                ("grant_type", g),
                ("client_id", &client),
                ("code", "x"),
                ("code_verifier", "y"),
            ])
            .await;
        assert_json_error(r, 400, e_unsupported(g)).await;
    }
    // Row 6 comes before rows 7 and 8.
    let r = s.token(&[("grant_type", "password")]).await;
    assert_json_error(r, 400, e_unsupported("password")).await;
    let r = s
        .token(&[("grant_type", "password"), ("client_id", "unknown-client")])
        .await;
    assert_json_error(r, 400, e_unsupported("password")).await;
}

#[tokio::test]
async fn row6_value_is_cut_to_64_characters_and_json_escaped() {
    let s = TestServer::start().await;
    let long = format!("\"{}\\{}", "x".repeat(60), "y".repeat(39)); // 101 characters
    let r = s.token(&[("grant_type", &long)]).await;
    let cut: String = long.chars().take(64).collect();
    let raw_text = {
        let (st, h, v) = json_of(r).await;
        assert_eq!((st, &v), (400, &e_unsupported(&cut)));
        assert_json_content_type(&h);
        serde_json::to_string(&v).unwrap()
    };
    assert!(raw_text.contains("\\\""), "quote escaped: {raw_text}");
    // Characters, not bytes.
    let wide = "é".repeat(100);
    let r = s.token(&[("grant_type", &wide)]).await;
    assert_json_error(r, 400, e_unsupported(&"é".repeat(64))).await;
}

#[tokio::test]
async fn row6_description_has_no_cr_lf_tab() {
    // Checklist T12. CONTRACT.md says "JSON-escaped", which would keep a newline as `\n`;
    // the checklist forbids CR/LF/TAB in error_description. We require the latter.
    let s = TestServer::start().await;
    let r = s.token(&[("grant_type", "a\r\nb\tc")]).await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"], "unsupported_grant_type");
    let d = v["error_description"].as_str().unwrap();
    assert!(!d.contains(['\r', '\n', '\t']), "{d:?}");
    assert!(
        d.starts_with("Grant type a") && d.ends_with("c not supported"),
        "{d:?}"
    );
}

#[tokio::test]
async fn row7_required_parameters_missing_or_empty() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let full = [
        ("grant_type", "authorization_code"),
        ("client_id", client.as_str()),
        ("code", "some-code"),
        ("code_verifier", "some-verifier"),
    ];
    for drop in 1..4 {
        let missing: Vec<_> = full
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, p)| *p)
            .collect();
        assert_json_error(s.token(&missing).await, 400, e_empty()).await;
        let mut empty = full.to_vec();
        empty[drop].1 = "";
        assert_json_error(s.token(&empty).await, 400, e_empty()).await;
    }
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", client.as_str()),
        ("refresh_token", "some-token"),
    ];
    for drop in 1..3 {
        let missing: Vec<_> = refresh
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, p)| *p)
            .collect();
        assert_json_error(s.token(&missing).await, 400, e_empty()).await;
        let mut empty = refresh.to_vec();
        empty[drop].1 = "";
        assert_json_error(s.token(&empty).await, 400, e_empty()).await;
    }
    // Row 7 comes before row 8: unknown client and a missing verifier.
    let r = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "unknown-client"),
            ("code", "x"),
        ])
        .await;
    assert_json_error(r, 400, e_empty()).await;
    let r = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "unknown-client"),
        ])
        .await;
    assert_json_error(r, 400, e_empty()).await;
}

// --- rows 8–10 --------------------------------------------------------------------------

#[tokio::test]
async fn row8_unknown_or_deleted_client() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    assert_json_error(
        s.exchange("unknown-client", &code).await,
        403,
        e_invalid_client(),
    )
    .await;
    assert_json_error(
        s.refresh("unknown-client", "whatever", None).await,
        403,
        e_invalid_client(),
    )
    .await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/clients/{client}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_client()).await;
}

#[tokio::test]
async fn row9_grant_not_enabled_for_client() {
    let s = TestServer::start().await;
    let client = s
        .create_client(
            &["openid", "phone", "offline_access"],
            &["authorization_code"],
        )
        .await;
    // Row 9 comes before row 11: the token is garbage, but the grant is refused first.
    let r = s.refresh(&client, "garbage", None).await;
    assert_json_error(r, 403, e_grant_not_allowed()).await;
}

#[tokio::test]
async fn row10_code_of_another_client_is_refused_but_not_burnt() {
    let s = TestServer::start().await;
    let a = s.full_client().await;
    let b = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&a, &sub, &["openid", "phone"]).await;
    assert_json_error(s.exchange(&b, &code).await, 403, e_access_denied()).await;
    // Even with a wrong verifier: row 10 comes before row 12 (and burns nothing).
    let wrong = Code {
        verifier: random_verifier(),
        ..code.clone()
    };
    assert_json_error(s.exchange(&b, &wrong).await, 403, e_access_denied()).await;
    s.exchange_ok(&a, &code).await;
}

#[tokio::test]
async fn row10_blocked_or_deleted_user() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let c1 = s.mint_code(&client, &sub, &["phone"]).await;
    let c2 = s.mint_code(&client, &sub, &["phone"]).await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_json_error(s.exchange(&client, &c1).await, 403, e_access_denied()).await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/users/{sub}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(s.exchange(&client, &c2).await, 403, e_access_denied()).await;
}

// --- rows 11–12 and the rules behind them ------------------------------------------------

#[tokio::test]
async fn row11_unknown_code() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for code in ["unknown", &"A".repeat(43), &random_verifier()] {
        let c = Code {
            code: code.to_string(),
            verifier: random_verifier(),
            challenge: String::new(),
        };
        assert_json_error(s.exchange(&client, &c).await, 403, e_invalid_code()).await;
    }
    // Row 11 comes before row 12: unknown code and a malformed verifier.
    let c = Code {
        code: "unknown".into(),
        verifier: "short".into(),
        challenge: String::new(),
    };
    assert_json_error(s.exchange(&client, &c).await, 403, e_invalid_code()).await;
}

#[tokio::test]
async fn row11_expired_code() {
    let s = TestServer::start_with(|st| st.code_ttl = Duration::from_secs(1)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let verifier = random_verifier();
    let r = s
        .authorize(
            &client,
            &sub,
            &["phone"],
            &challenge_of(&verifier),
            json!({}),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["expires_in"], 1);
    let code = Code {
        code: v["code"].as_str().unwrap().to_string(),
        verifier,
        challenge: String::new(),
    };
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_code()).await;
}

#[tokio::test]
async fn default_code_lifetime_is_60_seconds() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let r = s
        .authorize(
            &client,
            &sub,
            &["phone"],
            &challenge_of(&random_verifier()),
            json!({}),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!((st, &v["expires_in"]), (201, &json!(60)));
}

#[tokio::test]
async fn code_is_single_use_and_replay_revokes_every_token_of_its_family() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s
        .mint_code(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let first = s.exchange_ok(&client, &code).await;
    let at1 = first["access_token"].as_str().unwrap().to_string();
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    // Tokens obtained by refreshing belong to the family too.
    let second = s.refresh_ok(&client, &rt1).await;
    let at2 = second["access_token"].as_str().unwrap().to_string();
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(s.userinfo_status(&at1).await, 200);
    assert_eq!(s.userinfo_status(&at2).await, 200);

    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_code()).await;

    for at in [&at1, &at2] {
        let h = assert_json_error(s.userinfo(at).await, 401, e_invalid_token()).await;
        assert_eq!(
            header(&h, "www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    }
    assert_json_error(
        s.refresh(&client, &rt2, None).await,
        403,
        e_invalid_refresh(),
    )
    .await;
    // And again, a third time: still row 11.
    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_code()).await;
}

#[tokio::test]
async fn row12_wrong_verifier_burns_the_code() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    let wrong = Code {
        verifier: random_verifier(),
        ..code.clone()
    };
    assert_json_error(s.exchange(&client, &wrong).await, 403, e_invalid_verifier()).await;
    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_code()).await;
}

#[tokio::test]
async fn row12_malformed_verifier_is_refused_and_burns_the_code() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    // Each case is built so that SHA-256 would match if the server skipped the ABNF check.
    let cases = [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(42)),
        format!("{}/", "a".repeat(50)),
        format!("{} ", "a".repeat(50)),
        format!("{}é", "a".repeat(50)),
    ];
    for bad in cases {
        let r = s
            .authorize(&client, &sub, &["phone"], &challenge_of(&bad), json!({}))
            .await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 201, "{v}");
        let code = Code {
            code: v["code"].as_str().unwrap().to_string(),
            verifier: bad.clone(),
            challenge: String::new(),
        };
        let h =
            assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_verifier()).await;
        let _ = h;
        assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_code()).await;
    }
    // The challenge itself is not a verifier.
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    let c = Code {
        verifier: code.challenge.clone(),
        ..code.clone()
    };
    assert_json_error(s.exchange(&client, &c).await, 403, e_invalid_verifier()).await;
}

#[tokio::test]
async fn verifier_at_length_bounds_is_accepted() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    for v in ["a".repeat(43), "-._~AZaz09".repeat(12) + "abcdefgh"] {
        assert!(v.len() == 43 || v.len() == 128);
        let r = s
            .authorize(&client, &sub, &["phone"], &challenge_of(&v), json!({}))
            .await;
        let (_, _, j) = json_of(r).await;
        let code = Code {
            code: j["code"].as_str().unwrap().to_string(),
            verifier: v,
            challenge: String::new(),
        };
        s.exchange_ok(&client, &code).await;
    }
}

#[tokio::test]
async fn redirect_uri_must_match_when_sent() {
    let s = TestServer::start().await;
    let r2 = "https://app.example/other";
    let v = s
        .create_client_json(json!({
            "name": "Two URIs", "redirect_uris": [REDIRECT_URI, r2],
            "scopes": ["phone"], "grant_types": ["authorization_code"],
        }))
        .await;
    let client = v["client_id"].as_str().unwrap().to_string();
    let sub = s.create_user().await;
    let with_uri = json!({ "redirect_uri": REDIRECT_URI });
    let exchange_with = |code: Code, uri: Option<String>| {
        let s = &s;
        let client = client.clone();
        async move {
            let mut p = vec![
                ("grant_type", "authorization_code".to_string()),
                ("client_id", client),
                ("code", code.code),
                ("code_verifier", code.verifier),
            ];
            if let Some(u) = uri {
                p.push(("redirect_uri", u));
            }
            s.http
                .post(s.url("/v1/token"))
                .form(&p)
                .send()
                .await
                .unwrap()
        }
    };
    for bad in [
        r2,
        "https://app.example/cb/",
        "https://APP.example/cb",
        "https://app.example:443/cb",
        "https://app.example/cb?x=1",
    ] {
        let c = s
            .mint_code_with(&client, &sub, &["phone"], with_uri.clone())
            .await;
        assert_json_error(
            exchange_with(c, Some(bad.into())).await,
            403,
            e_invalid_code(),
        )
        .await;
    }
    let c = s
        .mint_code_with(&client, &sub, &["phone"], with_uri.clone())
        .await;
    assert_eq!(
        exchange_with(c, Some(REDIRECT_URI.into())).await.status(),
        200
    );
    // redirect_uri is optional at the token endpoint.
    let c = s
        .mint_code_with(&client, &sub, &["phone"], with_uri.clone())
        .await;
    assert_eq!(exchange_with(c, None).await.status(), 200);
    // A code issued without one cannot be redeemed with one.
    let c = s.mint_code(&client, &sub, &["phone"]).await;
    assert_json_error(
        exchange_with(c, Some(REDIRECT_URI.into())).await,
        403,
        e_invalid_code(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_yield_exactly_one_200() {
    const CODES: usize = 100;
    const RACERS: usize = 20;
    const AT_ONCE: usize = 5;
    let s = TestServer::start_with(|st| st.client_rate_limit = unlimited()).await;
    let client = s.create_client(&["phone"], &["authorization_code"]).await;
    let sub = s.create_user().await;
    let mut codes = Vec::new();
    for _ in 0..CODES {
        codes.push(s.mint_code(&client, &sub, &["phone"]).await);
    }
    let mut wins = vec![0usize; CODES];
    let mut losers = 0usize;
    for (b, batch) in codes.chunks(AT_ONCE).enumerate() {
        let barrier = Arc::new(Barrier::new(batch.len() * RACERS));
        let mut set = JoinSet::new();
        for (i, code) in batch.iter().enumerate() {
            for _ in 0..RACERS {
                let (http, url, barrier) = (s.http.clone(), s.url("/v1/token"), barrier.clone());
                let form = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("client_id", client.clone()),
                    ("code", code.code.clone()),
                    ("code_verifier", code.verifier.clone()),
                ];
                set.spawn(async move {
                    barrier.wait().await;
                    let r = http.post(url).form(&form).send().await.unwrap();
                    let st = r.status().as_u16();
                    (b * AT_ONCE + i, st, r.text().await.unwrap())
                });
            }
        }
        while let Some(r) = set.join_next().await {
            let (idx, st, body) = r.unwrap();
            match st {
                200 => wins[idx] += 1,
                403 => {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(v, e_invalid_code(), "loser of code {idx}");
                    losers += 1;
                }
                _ => panic!("code {idx}: unexpected {st} {body}"),
            }
        }
    }
    assert_eq!(wins.iter().sum::<usize>(), CODES, "wins per code: {wins:?}");
    assert!(wins.iter().all(|w| *w == 1), "wins per code: {wins:?}");
    assert_eq!(losers, CODES * (RACERS - 1));
}

#[tokio::test]
async fn issued_tokens_survive_a_restart() {
    let mut s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let at = v["access_token"].as_str().unwrap().to_string();
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let pending = s.mint_code(&client, &sub, &["phone"]).await;
    s.restart().await;
    let (st, _, info) = json_of(s.userinfo(&at).await).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], sub.as_str());
    s.refresh_ok(&client, &rt).await;
    s.exchange_ok(&client, &pending).await;
}

/// Searches `hay` for `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn secrets_are_not_stored_in_clear() {
    let mut s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s
        .mint_code(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let v1 = s.exchange_ok(&client, &code).await;
    let rt1 = v1["refresh_token"].as_str().unwrap().to_string();
    let v2 = s.refresh_ok(&client, &rt1).await;
    let burnt = s.mint_code(&client, &sub, &["phone"]).await;
    let wrong = Code {
        verifier: random_verifier(),
        ..burnt.clone()
    };
    s.exchange(&client, &wrong).await;
    let mut secrets: Vec<(String, String)> = vec![
        ("code".into(), code.code.clone()),
        ("code_verifier".into(), code.verifier.clone()),
        ("burnt code".into(), burnt.code.clone()),
        ("wrong verifier".into(), wrong.verifier.clone()),
        ("admin token".into(), ADMIN_TOKEN.into()),
    ];
    for (n, v) in [("first", &v1), ("second", &v2)] {
        for k in ["access_token", "refresh_token"] {
            secrets.push((format!("{n} {k}"), v[k].as_str().unwrap().to_string()));
        }
    }
    s.stop().await;

    let dump = format!("{:?}", s.dump_tables());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(s.dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            files.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    assert!(!files.is_empty());
    let server_secret_hex = "07".repeat(32);
    assert!(
        !dump.contains(&server_secret_hex),
        "the server secret is in the store"
    );
    for (what, secret) in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "{what} found in the table dump"
        );
        let decoded = URL_SAFE_NO_PAD_DECODE(secret);
        if let Some(raw_bytes) = &decoded {
            let hex = tcauth_core::secret::hex(raw_bytes);
            assert!(
                !dump.contains(&hex),
                "{what} (decoded) found in the table dump"
            );
        }
        for (p, bytes) in &files {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "{what} found in {}",
                p.display()
            );
            if let Some(raw_bytes) = &decoded {
                assert!(
                    !contains(bytes, raw_bytes),
                    "{what} (decoded) found in {}",
                    p.display()
                );
            }
        }
    }
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_DECODE(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .filter(|b| b.len() >= 16)
}

#[tokio::test]
async fn database_files_are_private_and_hold_no_plain_private_key() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start_opts(
        StartOpts {
            seed_key: false,
            ..StartOpts::default()
        },
        |_| {},
    )
    .await;
    // The server generated its key at start-up; make it write something too.
    let client = s.full_client().await;
    let sub = s.create_user().await;
    s.tokens(&client, &sub, &["openid", "phone"]).await;
    let mode = std::fs::metadata(&s.db_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", s.db_path.display());
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", s.db_path.display()));
        if let Ok(m) = std::fs::metadata(&p) {
            let mode = m.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
        }
    }
    // PKCS#1 RSAPrivateKey DER: SEQUENCE, INTEGER 0 (version), INTEGER (2048-bit modulus).
    let dump = format!("{:?}", s.dump_tables());
    assert!(
        !dump.contains("0201000282010100"),
        "an unencrypted RSA private key is stored"
    );
    assert!(!dump.contains("BEGIN RSA PRIVATE KEY") && !dump.contains("BEGIN PRIVATE KEY"));
}

#[tokio::test]
async fn truecaller_sample_curl_works_unchanged() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s
        .mint_code(&client, &sub, &["openid", "profile", "phone"])
        .await;
    // The seed page's sample, with our URL, client id, code and verifier substituted.
    let args: Vec<String> = vec![
        "--location".into(),
        "--request".into(),
        "POST".into(),
        s.url("/v1/token"),
        "--header".into(),
        "Content-Type: application/x-www-form-urlencoded".into(),
        "--data-urlencode".into(),
        "grant_type=authorization_code".into(),
        "--data-urlencode".into(),
        format!("client_id={client}"),
        "--data-urlencode".into(),
        format!("code={}", code.code),
        "--data-urlencode".into(),
        format!("code_verifier={}", code.verifier),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .env("NO_PROXY", "*")
            .output()
            .expect("run curl")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert_eq!(v["expires_in"], 3600);
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(s.userinfo_status(at).await, 200);
    let m = s.metrics().await;
    assert_eq!(
        metric(
            &m,
            "tcauth_http_requests_total{endpoint=\"/v1/token\",status=\"200\"}"
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn token_endpoint_accepts_only_post() {
    let s = TestServer::start().await;
    for m in ["GET", "PUT", "DELETE", "PATCH"] {
        let r = s
            .http
            .request(
                reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                s.url("/v1/token"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{m} /v1/token");
    }
}
