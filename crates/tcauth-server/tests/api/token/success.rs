//! The success answer: its exact members and headers, `expires_in` as configured, a refresh
//! token only with `offline_access` and the refresh grant; Truecaller's sample request works
//! unchanged; the endpoint accepts only POST.

use super::{keys_of, set};
use crate::common::*;
use serde_json::Value;
use std::time::Duration;

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
