//! Guessing the admin token: failures are limited per IP (10 at once, then one per 10 s),
//! counted in `/metrics` and logged (throttled) without the presented token.

use crate::common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP client whose connections come from `ip` (any 127.x.y.z address is this machine).
pub fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(ip))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn unauthorized() -> Value {
    json!({"error":"unauthorized","error_description":"Admin token required"})
}

/// What the server logs on this test's thread (`#[tokio::test]` runs the server's tasks on
/// it), at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let c = Captured::default();
    let w = c.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || w.clone())
        .finish();
    (c, tracing::subscriber::set_default(sub))
}

async fn get_clients(
    http: &reqwest::Client,
    s: &TestServer,
    auth: Option<&str>,
) -> reqwest::Response {
    let mut rb = http.get(s.url("/admin/v1/clients"));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn a_guesser_gets_ten_401s_then_429_even_with_the_right_token() {
    let (logs, _guard) = capture_logs();
    let s = TestServer::start().await;
    let guesser = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let guess = "Bearer guess-guess-guess-0123456789-XYZ";
    for i in 0..10 {
        let auth = if i % 2 == 0 { Some(guess) } else { None };
        let h = assert_json_error(get_clients(&guesser, &s, auth).await, 401, unauthorized()).await;
        assert_eq!(
            header(&h, "www-authenticate"),
            Some("Bearer"),
            "failure {i}"
        );
        assert_eq!(header(&h, "retry-after"), None, "failure {i}");
    }
    // The 11th is refused before its token is looked at: a wrong one, and the right one too.
    for auth in [guess.to_string(), format!("Bearer {ADMIN_TOKEN}")] {
        let r = get_clients(&guesser, &s, Some(&auth)).await;
        let h = assert_json_error(r, 429, json!({"error":"too_many_requests"})).await;
        let ra = retry_after(&h);
        assert!((1..=10).contains(&ra), "Retry-After {ra}");
        assert_eq!(header(&h, "www-authenticate"), None);
    }
    // Another address is not held up, and a right token spends nothing: many in a row pass.
    let admin = client_from(Ipv4Addr::new(127, 0, 0, 3));
    for _ in 0..15 {
        let r = get_clients(&admin, &s, Some(&format!("Bearer {ADMIN_TOKEN}"))).await;
        assert_eq!(r.status(), 200);
    }
    // ... and its own failures have their own budget.
    let h = assert_json_error(
        get_clients(&admin, &s, Some(guess)).await,
        401,
        unauthorized(),
    )
    .await;
    assert_eq!(header(&h, "www-authenticate"), Some("Bearer"));

    let m = s.metrics().await;
    assert_eq!(
        metric(&m, "tcauth_admin_auth_failures_total"),
        Some(11.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "tcauth_admin_auth_locked_out_total"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(metric(&m, "tcauth_rate_limited_total"), Some(2.0), "{m}");

    let text = logs.text();
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("admin authentication failed"))
        .collect();
    // Throttled: one line a second at most, the first at once.
    assert!(!failures.is_empty() && failures.len() <= 3, "{text}");
    let first = failures[0];
    assert!(first.contains("WARN"), "{first}");
    assert!(first.contains("ip=127.0.0.2"), "{first}");
    assert!(first.contains("path=/admin/v1/clients"), "{first}");
    let locked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("admin locked out"))
        .collect();
    assert!(
        !locked.is_empty() && locked[0].contains("ip=127.0.0.2"),
        "{text}"
    );
    // Never the presented token, nor the right one, nor a prefix of either.
    for secret in ["guess-guess", ADMIN_TOKEN, &ADMIN_TOKEN[..8]] {
        assert!(!text.contains(secret), "{secret:?} in the log:\n{text}");
    }
}

#[tokio::test]
async fn a_flood_of_wrong_tokens_is_logged_in_few_lines() {
    let (logs, _guard) = capture_logs();
    let s = TestServer::start().await;
    for i in 0..200u32 {
        let from = client_from(Ipv4Addr::new(127, 0, 2, (i % 250) as u8 + 1));
        let r = get_clients(&from, &s, Some("Bearer nope-nope-nope-nope")).await;
        assert_eq!(r.status(), 401);
    }
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, "tcauth_admin_auth_failures_total"),
        Some(200.0),
        "{m}"
    );
    let text = logs.text();
    let n = text
        .lines()
        .filter(|l| l.contains("admin authentication failed"))
        .count();
    assert!((1..=5).contains(&n), "{n} lines for 200 failures:\n{text}");
    assert!(!text.contains("nope-nope"), "{text}");
}
