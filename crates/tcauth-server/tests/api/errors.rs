//! Finding 6 of issue 15: some error answers were not JSON — 405s from the method routers had
//! an empty body and no Content-Type, a path that does not decode gave a `text/plain` 400.
//! Every error answer of every route is JSON in the contract's style now.

use crate::common::*;
use serde_json::{json, Value};

fn e_method() -> Value {
    json!({"error": "method_not_allowed", "error_description": "Method not allowed; see the Allow header"})
}

async fn send(s: &TestServer, method: &str, path: &str, admin: bool) -> reqwest::Response {
    let mut rb = s
        .http
        .request(method.parse().unwrap(), s.url(path))
        .header("content-type", "application/json")
        .body("{}");
    if admin {
        rb = rb.bearer_auth(ADMIN_TOKEN);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn every_405_is_json_and_names_the_allowed_methods() {
    let s = TestServer::start().await;
    // (method, path, admin token, Allow, body)
    let token_style = json!({"error": "invalid_request",
        "error_description": "Use POST with an application/x-www-form-urlencoded body"});
    let otp_style = json!({"code": 405, "message": "Method not allowed."});
    let cases: Vec<(&str, &str, bool, &str, Value)> = vec![
        ("DELETE", "/v1/userinfo", false, "GET,HEAD,POST", e_method()),
        ("PUT", "/v1/userinfo", false, "GET,HEAD,POST", e_method()),
        (
            "POST",
            "/.well-known/openid-configuration",
            false,
            "GET,HEAD",
            e_method(),
        ),
        (
            "DELETE",
            "/.well-known/jwks.json",
            false,
            "GET,HEAD",
            e_method(),
        ),
        ("GET", "/v1/token", false, "POST", token_style.clone()),
        ("GET", "/v1/revoke", false, "POST", token_style),
        (
            "GET",
            "/v1/otp/client/verification/request",
            false,
            "POST",
            otp_style.clone(),
        ),
        (
            "PUT",
            "/v1/otp/client/verification/verify",
            false,
            "POST",
            otp_style.clone(),
        ),
        (
            "POST",
            "/v1/otp/client/installation/phoneNumberDetail/x",
            false,
            "GET",
            otp_style,
        ),
        ("POST", "/healthz", false, "GET,HEAD", e_method()),
        ("DELETE", "/readyz", false, "GET,HEAD", e_method()),
        ("POST", "/metrics", false, "GET,HEAD", e_method()),
        (
            "PUT",
            "/admin/v1/clients",
            true,
            "GET,HEAD,POST",
            e_method(),
        ),
        (
            "POST",
            "/admin/v1/clients/abc",
            true,
            "DELETE,GET,HEAD,PATCH",
            e_method(),
        ),
        (
            "POST",
            "/admin/v1/clients/abc/deliveries",
            true,
            "GET,HEAD",
            e_method(),
        ),
        (
            "GET",
            "/admin/v1/clients/abc/branding",
            true,
            "DELETE,PUT",
            e_method(),
        ),
        ("PUT", "/admin/v1/users", true, "GET,HEAD,POST", e_method()),
        (
            "GET",
            "/admin/v1/clients/abc/live",
            true,
            "POST",
            e_method(),
        ),
        (
            "PUT",
            "/admin/v1/clients/abc/test-numbers",
            true,
            "GET,HEAD,POST",
            e_method(),
        ),
        (
            "PUT",
            "/admin/v1/users/1",
            true,
            "DELETE,GET,HEAD",
            e_method(),
        ),
        ("GET", "/admin/v1/users/1/block", true, "POST", e_method()),
        ("GET", "/admin/v1/authorizations", true, "POST", e_method()),
        ("DELETE", "/v1/auth", false, "GET,HEAD,POST", e_method()),
        ("PUT", "/v1/auth/phone", false, "GET,HEAD,POST", e_method()),
        ("GET", "/v1/auth/code/resend", false, "POST", e_method()),
        (
            "DELETE",
            "/v1/auth/consent",
            false,
            "GET,HEAD,POST",
            e_method(),
        ),
    ];
    for (method, path, admin, allow, body) in cases {
        let r = send(&s, method, path, admin).await;
        let mut allowed: Vec<String> = header(r.headers(), "allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"))
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        allowed.sort();
        assert_eq!(allowed.join(","), allow, "{method} {path}");
        assert_json_error(r, 405, body).await;
    }
}

#[tokio::test]
async fn path_errors_are_json() {
    let s = TestServer::start().await;
    for path in ["/admin/v1/clients/%ff", "/admin/v1/users/%ff%fe/block"] {
        let r = send(&s, "GET", path, true).await;
        let (st, h, v) = json_of(r).await;
        assert_json_content_type(&h);
        assert_eq!(
            st,
            if path.ends_with("block") { 405 } else { 400 },
            "{path}: {v}"
        );
    }
    let r = send(&s, "GET", "/admin/v1/clients/%ff", true).await;
    let (_, _, v) = json_of(r).await;
    assert_eq!(v["error"], "invalid_request", "{v}");
    let d = v["error_description"].as_str().unwrap();
    assert!(d.starts_with("Invalid URL"), "{v}");
    // Unknown paths were JSON already, and stay so.
    assert_json_error(
        send(&s, "GET", "/nowhere", false).await,
        404,
        json!({"error": "not_found"}),
    )
    .await;
}
