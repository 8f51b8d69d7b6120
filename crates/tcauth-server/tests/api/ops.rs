//! /healthz, /readyz, /metrics: CONTRACT.md §8 and the decided details; checklist P3.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start().await;
    assert_json_error(s.get("/healthz").await, 200, json!({"status":"ok"})).await;
    assert_json_error(s.get("/readyz").await, 200, json!({"status":"ready"})).await;
}

#[tokio::test]
async fn readiness_follows_the_store_liveness_does_not() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let fault = s.fault.clone().unwrap();
    fault.fail();
    assert_json_error(s.get("/readyz").await, 503, json!({"status":"unavailable"})).await;
    assert_json_error(s.get("/healthz").await, 200, json!({"status":"ok"})).await;
    fault.hang();
    let t = std::time::Instant::now();
    assert_json_error(s.get("/readyz").await, 503, json!({"status":"unavailable"})).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "readiness answers within a bounded time"
    );
    assert_json_error(s.get("/healthz").await, 200, json!({"status":"ok"})).await;
    fault.pass();
    assert_json_error(s.get("/readyz").await, 200, json!({"status":"ready"})).await;
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_limits() {
    let s = TestServer::start().await;
    let client = s
        .create_client_json(json!({
            "name": "M", "redirect_uris": [REDIRECT_URI],
            "scopes": ["openid", "phone", "offline_access"],
            "grant_types": ["authorization_code", "refresh_token"],
            "rate_limit": {"per_second": 1, "burst": 4},
        }))
        .await["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sub = s.create_user().await;
    // 1: 200 with access, refresh and id_token.
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    // 2: 200 with access only.
    s.tokens(&client, &sub, &["phone"]).await;
    // 3: 403.
    let bogus = Code {
        code: "x".into(),
        verifier: random_verifier(),
        challenge: String::new(),
    };
    assert_eq!(s.exchange(&client, &bogus).await.status(), 403);
    // 4: 403; 5: 429.
    assert_eq!(s.exchange(&client, &bogus).await.status(), 403);
    assert_eq!(s.exchange(&client, &bogus).await.status(), 429);
    assert_eq!(
        s.userinfo_status(v["access_token"].as_str().unwrap()).await,
        200
    );

    let r = s.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let ct = header(r.headers(), "content-type").unwrap().to_string();
    assert!(
        ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
        "{ct}"
    );
    let m = r.text().await.unwrap();
    let get = |series: &str| metric(&m, series).unwrap_or_else(|| panic!("no {series} in\n{m}"));
    assert_eq!(
        get("tcauth_http_requests_total{endpoint=\"/v1/token\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        get("tcauth_http_requests_total{endpoint=\"/v1/token\",status=\"403\"}"),
        2.0
    );
    assert_eq!(
        get("tcauth_http_requests_total{endpoint=\"/v1/token\",status=\"429\"}"),
        1.0
    );
    assert_eq!(
        get("tcauth_http_requests_total{endpoint=\"/v1/userinfo\",status=\"200\"}"),
        1.0
    );
    assert_eq!(get("tcauth_tokens_issued_total{kind=\"access\"}"), 2.0);
    assert_eq!(get("tcauth_tokens_issued_total{kind=\"refresh\"}"), 1.0);
    assert_eq!(get("tcauth_tokens_issued_total{kind=\"id_token\"}"), 1.0);
    assert_eq!(get("tcauth_rate_limited_total"), 1.0);
    assert_eq!(get("tcauth_shed_total"), 0.0);
    assert_eq!(
        get("tcauth_http_request_duration_seconds_bucket{endpoint=\"/v1/token\",le=\"+Inf\"}"),
        5.0
    );
    assert!(
        m.lines().any(|l| l.starts_with(
            "tcauth_http_request_duration_seconds_bucket{endpoint=\"/v1/token\",le=\"0."
        )),
        "{m}"
    );
    // Metrics never carry secrets (K5, P6).
    for secret in [
        v["access_token"].as_str().unwrap(),
        v["refresh_token"].as_str().unwrap(),
        ADMIN_TOKEN,
    ] {
        assert!(!m.contains(secret), "metrics mention {secret}");
    }
    // Endpoints are route templates, not raw paths (bounded label values).
    let r = s.admin("GET", "/admin/v1/users/12345", None).await;
    assert_eq!(r.status(), 404);
    let m = s.metrics().await;
    assert!(!m.contains("12345"), "raw path in metrics:\n{m}");
}

#[tokio::test]
async fn out_of_bounds_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn tcauth_store::Store> =
        std::sync::Arc::new(tcauth_store::SqliteStore::open(dir.path().join("t.db")).unwrap());
    type Tweak = fn(&mut tcauth_server::Settings);
    let tweaks: [(&str, Tweak); 6] = [
        ("code_ttl 601 s", |s| s.code_ttl = Duration::from_secs(601)),
        ("clients_poll 1 s", |s| {
            s.clients_poll_interval = Duration::from_secs(1)
        }),
        ("clients_poll 10 ms", |s| {
            s.clients_poll_interval = Duration::from_millis(10)
        }),
        ("short secret", |s| {
            s.secret = tcauth_server::Secret(vec![1; 16])
        }),
        ("issuer with a trailing slash", |s| s.issuer.push('/')),
        ("short admin token", |s| {
            s.admin_token = Some(tcauth_server::Secret(b"short".to_vec()))
        }),
    ];
    for (what, tweak) in tweaks {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut settings = tcauth_server::Settings::new(secret());
        settings.issuer = format!("http://{}", listener.local_addr().unwrap());
        tweak(&mut settings);
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            tcauth_server::serve(listener, settings, store.clone(), std::future::pending()),
        )
        .await
        .unwrap_or_else(|_| panic!("{what}: serve started instead of refusing"));
        assert!(
            matches!(r, Err(tcauth_server::ServeError::Settings(_))),
            "{what}: {r:?}"
        );
    }
}

/// Rows of `table` in the test server's database.
fn rows(s: &TestServer, table: &str) -> usize {
    s.dump_tables()
        .into_iter()
        .find(|(t, _)| t == table)
        .map(|(_, r)| r.len())
        .unwrap_or_else(|| panic!("no table {table}"))
}

#[tokio::test]
async fn the_background_sweeper_deletes_expired_codes_and_tokens_in_batches() {
    // Everything expires after 1 s; the sweeper runs every second, two rows per kind a round.
    let s = TestServer::start_with(|st| {
        st.code_ttl = Duration::from_secs(1);
        st.access_token_ttl = Duration::from_secs(1);
        st.refresh_token_ttl = Duration::from_secs(1);
        st.sweep_interval = Duration::from_secs(1);
        st.sweep_batch = 2;
    })
    .await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    for _ in 0..3 {
        s.tokens(&client, &sub, &["openid", "offline_access"]).await;
    }
    for _ in 0..3 {
        s.mint_code(&client, &sub, &["openid"]).await;
    }
    assert_eq!(
        (
            rows(&s, "auth_codes"),
            rows(&s, "access_tokens"),
            rows(&s, "refresh_tokens")
        ),
        (6, 3, 3)
    );
    // A round goes on until nothing expired is left (within half the interval); poll until
    // they have run (at most 10 s), never assuming a schedule.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = (
            rows(&s, "auth_codes"),
            rows(&s, "access_tokens"),
            rows(&s, "refresh_tokens"),
        );
        if left == (0, 0, 0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sweeper left {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Clients and users are not touched.
    assert_eq!((rows(&s, "clients"), rows(&s, "users")), (1, 1));
}
