//! `GET /v1/default` (CONTRACT.md §9): Truecaller's web profile for an access token with the
//! `profile` scope; the exact bodies and headers of every answer.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn default_profile(s: &TestServer, authorization: Option<&str>) -> reqwest::Response {
    let mut rb = s.http.get(s.url("/v1/default"));
    if let Some(a) = authorization {
        rb = rb.header("authorization", a);
    }
    rb.send().await.unwrap()
}

async fn with_token(s: &TestServer, token: &str) -> reqwest::Response {
    default_profile(s, Some(&format!("Bearer {token}"))).await
}

async fn token_for(s: &TestServer, client: &str, sub: &str, scopes: &[&str]) -> String {
    s.tokens(client, sub, scopes).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn unauthorized() -> Value {
    json!({"code": 401, "message": "Unauthorized"})
}

/// Asserts 401 `{"code":401,"message":"Unauthorized"}`, `WWW-Authenticate: Bearer`, no-store.
async fn assert_unauthorized(r: reqwest::Response) {
    let h = assert_json_error(r, 401, unauthorized()).await;
    assert_eq!(header(&h, "www-authenticate"), Some("Bearer"));
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
}

async fn created_ms(s: &TestServer, sub: &str) -> i64 {
    let u = s
        .store
        .get_user(sub.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    u.created_at * 1000
}

#[tokio::test]
async fn full_user_exact_profile() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let mut body = full_profile(PHONE);
    body["gender"] = json!("male");
    body["address"] = json!({"street_address": "1 MG Road", "locality": "Pune",
        "region": "MH", "postal_code": "411001", "country": "IN"});
    let sub = s.create_user_json(body).await["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let t = token_for(&s, &client, &sub, &["openid", "profile"]).await;
    let r = with_token(&s, &t).await;
    let (st, h, v) = json_of(r).await;
    assert_eq!(st, 200, "{v}");
    assert_json_content_type(&h);
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    let ms = created_ms(&s, &sub).await;
    assert_eq!(
        v,
        json!({
            "id": sub,
            "userId": sub.parse::<i64>().unwrap(),
            "phoneNumbers": [919876543210u64],
            "name": {"first": "Asha", "last": "Rao"},
            "addresses": [{"countryCode": "in", "city": "Pune", "street": "1 MG Road",
                "zipcode": "411001"}],
            "avatarUrl": "https://img.example/asha.png",
            "onlineIdentities": {"email": "asha@example.com"},
            "gender": "Male",
            "isActive": true,
            "type": "Personal",
            "badges": [],
            "createdTime": ms,
            "history": {"name": {"updateTime": ms}},
        })
    );
}

#[tokio::test]
async fn minimal_user_has_no_absent_attributes() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_bare_user().await;
    let user = s
        .store
        .get_user(sub.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    // A token with `profile` alone does it (no `openid` needed, unlike userinfo).
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    let r = with_token(&s, &t).await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 200, "{v}");
    let digits: u64 = user.phone_e164[1..].parse().unwrap();
    assert_eq!(
        v,
        json!({
            "id": sub,
            "userId": sub.parse::<i64>().unwrap(),
            "phoneNumbers": [digits],
            "gender": "NotSet",
            "isActive": true,
            "type": "Personal",
            "badges": [],
            "createdTime": user.created_at * 1000,
        })
    );
}

#[tokio::test]
async fn unauthorized_answers() {
    let s = TestServer::start_with(|st| st.access_token_ttl = Duration::from_secs(1)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    // No header, another scheme, an empty token.
    assert_unauthorized(default_profile(&s, None).await).await;
    assert_unauthorized(default_profile(&s, Some("Basic dXNlcjpwdw==")).await).await;
    assert_unauthorized(default_profile(&s, Some("Bearer ")).await).await;
    // Unknown token; a refresh token or a code is not an access token.
    assert_unauthorized(with_token(&s, "no-such-token").await).await;
    let v = s
        .tokens(&client, &sub, &["openid", "profile", "offline_access"])
        .await;
    assert_unauthorized(with_token(&s, v["refresh_token"].as_str().unwrap()).await).await;
    // No `profile` scope.
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    assert_unauthorized(with_token(&s, &t).await).await;
    // Revoked.
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    assert_eq!(with_token(&s, &t).await.status(), 200);
    let r = s
        .revoke(&[("token", t.as_str()), ("client_id", client.as_str())])
        .await;
    assert_eq!(r.status(), 200);
    assert_unauthorized(with_token(&s, &t).await).await;
    // Expired.
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_unauthorized(with_token(&s, &t).await).await;
}

#[tokio::test]
async fn token_of_a_deleted_client_is_unauthorized() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/clients/{client}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_unauthorized(with_token(&s, &t).await).await;
}

#[tokio::test]
async fn blocked_or_deleted_user_is_404() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    let gone = json!({"code": 404, "message": "Profile information is not present for the user"});
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    let h = assert_json_error(with_token(&s, &t).await, 404, gone.clone()).await;
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/unblock"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(with_token(&s, &t).await.status(), 200);
    let r = s
        .admin("DELETE", &format!("/admin/v1/users/{sub}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(with_token(&s, &t).await, 404, gone).await;
}

#[tokio::test]
async fn store_failures_are_503_and_500_json() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["profile"]).await;
    s.fault.as_ref().unwrap().fail();
    let h = assert_json_error(
        with_token(&s, &t).await,
        503,
        json!({"code": 503, "message": "Service Unavailable"}),
    )
    .await;
    assert_eq!(retry_after(&h), 1);
    s.fault.as_ref().unwrap().break_down();
    assert_json_error(
        with_token(&s, &t).await,
        500,
        json!({"code": 500, "message": "Internal Server Error"}),
    )
    .await;
    s.fault.as_ref().unwrap().pass();
    assert_eq!(with_token(&s, &t).await.status(), 200);
}

#[tokio::test]
async fn other_methods_are_405_json() {
    let s = TestServer::start().await;
    let r = s.http.post(s.url("/v1/default")).send().await.unwrap();
    assert_eq!(header(r.headers(), "allow"), Some("GET"));
    assert_json_error(
        r,
        405,
        json!({"code": 405, "message": "Method Not Allowed"}),
    )
    .await;
}
