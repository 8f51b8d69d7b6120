//! Black-box tests of the phone-verification API (CONTRACT.md §6) and the one-time-code
//! infrastructure behind it (checklist O1–O14, S1–S2): a real server on a port-0 listener, a
//! real SMS-gateway stand-in (an axum server in the test that records each webhook call), the
//! exact status, JSON body and headers of every answer.

mod app_key;
mod flow;
mod limits;
mod receiver;
mod test_mode;

use crate::common::*;
use receiver::Receiver;
use serde_json::{json, Value};
use tcauth_server::settings::OtpSenderConfig;
use tcauth_server::{Secret, Settings};

pub const REQUEST: &str = "/v1/otp/client/verification/request";
pub const VERIFY: &str = "/v1/otp/client/verification/verify";
pub const DETAIL: &str = "/v1/otp/client/installation/phoneNumberDetail/";

/// The key the gateway checks signatures with.
pub const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";

/// A server whose codes go to a fresh [`Receiver`], with the general IP rate limit out of the
/// way; `f` adjusts the settings further.
pub async fn start(f: impl FnOnce(&mut Settings)) -> (TestServer, Receiver) {
    start_opts(StartOpts::default(), f).await
}

pub async fn start_opts(opts: StartOpts, f: impl FnOnce(&mut Settings)) -> (TestServer, Receiver) {
    let rx = Receiver::start().await;
    let url = rx.url();
    let s = TestServer::start_opts(opts, move |s| {
        s.otp_sender = OtpSenderConfig::Webhook {
            url,
            secret: Secret(WEBHOOK_SECRET.as_bytes().to_vec()),
        };
        s.ip_rate_limit = unlimited();
        f(s)
    })
    .await;
    (s, rx)
}

/// A registered client for the API (any client may use it).
pub async fn partner(s: &TestServer) -> String {
    s.create_client(&["openid", "phone"], &["authorization_code"])
        .await
}

/// POSTs `body` as JSON to `path` with the `clientId` header (when given).
pub async fn post_json(
    s: &TestServer,
    path: &str,
    client_id: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    post_with(&s.http, s, path, client_id, body).await
}

/// Like [`post_json`] through another HTTP client (e.g. one bound to another source IP).
pub async fn post_with(
    http: &reqwest::Client,
    s: &TestServer,
    path: &str,
    client_id: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut rb = http.post(s.url(path)).json(body);
    if let Some(c) = client_id {
        rb = rb.header("clientId", c);
    }
    rb.send().await.unwrap()
}

pub async fn request(s: &TestServer, client_id: &str, body: Value) -> reqwest::Response {
    post_json(s, REQUEST, Some(client_id), &body).await
}

/// `{"phoneNumber": …, "countryCode": "IN"}`.
pub fn number(n: &str) -> Value {
    json!({"phoneNumber": n, "countryCode": "IN"})
}

/// Requests a code for `body`, asserts 200; the verificationId and the code the gateway got.
pub async fn request_ok(
    s: &TestServer,
    rx: &Receiver,
    client_id: &str,
    body: Value,
) -> (String, String) {
    let before = rx.count();
    let (st, _, v) = json_of(request(s, client_id, body).await).await;
    assert_eq!(st, 200, "request: {v}");
    assert_eq!(rx.count(), before + 1, "one webhook call per code");
    let id = v["verificationId"].as_str().unwrap().to_string();
    (id, rx.last().code())
}

pub fn verify_body(id: &str, otp: &str) -> Value {
    json!({"verificationId": id, "otp": otp, "firstName": "Ravi", "lastName": "Kumar"})
}

pub async fn verify(s: &TestServer, client_id: &str, body: Value) -> reqwest::Response {
    post_json(s, VERIFY, Some(client_id), &body).await
}

/// Verifies and asserts 200; the access token.
pub async fn verify_ok(s: &TestServer, client_id: &str, id: &str, otp: &str) -> String {
    let (st, _, v) = json_of(verify(s, client_id, verify_body(id, otp)).await).await;
    assert_eq!(st, 200, "verify: {v}");
    v["accessToken"].as_str().unwrap().to_string()
}

pub async fn detail(s: &TestServer, client_id: Option<&str>, token: &str) -> reqwest::Response {
    let mut rb = s.http.get(s.url(&format!("{DETAIL}{token}")));
    if let Some(c) = client_id {
        rb = rb.header("clientId", c);
    }
    rb.send().await.unwrap()
}

/// `{"code": code, "message": message}`.
pub fn e(code: u16, message: &str) -> Value {
    json!({"code": code, "message": message})
}

pub fn e_partner() -> Value {
    e(404, "Invalid partner credentials.")
}
pub fn e_otp() -> Value {
    e(400, "Invalid OTP.")
}
pub fn e_wrong(left: u8) -> Value {
    json!({"code": 400, "message": "Invalid OTP.", "attemptsLeft": left})
}
pub fn e_locked() -> Value {
    e(429, "Too many attempts. Request a new OTP.")
}
pub fn e_limited() -> Value {
    e(429, "Too many requests. Try again later.")
}
pub fn e_phone() -> Value {
    e(400, "Invalid phone number.")
}
pub fn e_name() -> Value {
    e(400, "Invalid name.")
}
pub fn e_token() -> Value {
    e(1404, "Invalid access token.")
}

/// Asserts the exact error, JSON, and `no-store`; returns the headers.
pub async fn assert_error(
    resp: reqwest::Response,
    status: u16,
    body: Value,
) -> reqwest::header::HeaderMap {
    let h = assert_json_error(resp, status, body).await;
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    h
}

/// A wrong code for `right`: same length, another value.
pub fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}
