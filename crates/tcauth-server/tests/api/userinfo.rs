//! GET|POST /v1/userinfo: CONTRACT.md §2; checklist U1–U5.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

const BEARER: &str = "Bearer";
const BEARER_INVALID: &str = "Bearer error=\"invalid_token\"";

async fn token_for(s: &TestServer, client: &str, sub: &str, scopes: &[&str]) -> String {
    s.tokens(client, sub, scopes).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn claims_follow_the_granted_scopes_exactly() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let profile = json!({"given_name":"Asha","family_name":"Rao",
        "picture":"https://img.example/asha.png","gender":"female"});
    let phone = json!({"phone_number":"919876543210","phone_number_country_code":"IN",
        "phone_number_verified":true});
    let email = json!({"email":"asha@example.com"});
    let address = json!({"address":{"locality":"Pune","postal_code":"411001"}});
    let merge = |parts: &[&Value]| {
        let mut m = serde_json::Map::new();
        m.insert("sub".into(), Value::String(sub.clone()));
        for p in parts {
            for (k, v) in p.as_object().unwrap() {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::Object(m)
    };
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (vec!["openid"], merge(&[])),
        (vec!["openid", "profile"], merge(&[&profile])),
        (vec!["openid", "phone"], merge(&[&phone])),
        (vec!["openid", "email"], merge(&[&email])),
        (vec!["openid", "address"], merge(&[&address])),
        (vec!["openid", "offline_access"], merge(&[])),
        (
            vec![
                "openid",
                "profile",
                "phone",
                "email",
                "address",
                "offline_access",
            ],
            merge(&[&profile, &phone, &email, &address]),
        ),
    ];
    for (scopes, want) in cases {
        let t = token_for(&s, &client, &sub, &scopes).await;
        let (st, h, v) = json_of(s.userinfo(&t).await).await;
        assert_eq!(st, 200, "{scopes:?}: {v}");
        assert_json_content_type(&h);
        assert_eq!(v, want, "{scopes:?}");
    }
}

#[tokio::test]
async fn absent_profile_fields_are_omitted_never_null() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s
        .create_user_json(
            json!({"phone_number": "+91 98765-43211", "given_name": "Ravi",
            "email": "", "address": {}}),
        )
        .await["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let t = token_for(
        &s,
        &client,
        &sub,
        &["openid", "profile", "phone", "email", "address"],
    )
    .await;
    let (st, _, v) = json_of(s.userinfo(&t).await).await;
    assert_eq!(st, 200);
    assert_eq!(
        v,
        json!({"sub": sub, "given_name": "Ravi", "phone_number": "919876543211",
            "phone_number_country_code": "IN", "phone_number_verified": true})
    );
}

#[tokio::test]
async fn get_and_post_and_case_insensitive_scheme() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    let (st, _, get) = json_of(s.userinfo(&t).await).await;
    assert_eq!(st, 200);
    let post = s
        .http
        .post(s.url("/v1/userinfo"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let (st, _, post) = json_of(post).await;
    assert_eq!((st, &post), (200, &get));
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let r = s
            .http
            .get(s.url("/v1/userinfo"))
            .header("authorization", format!("{scheme} {t}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "scheme {scheme}");
    }
}

#[tokio::test]
async fn missing_or_non_bearer_credentials() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    let url = s.url("/v1/userinfo");
    let reqs = vec![
        s.http.get(&url),
        s.http.post(&url),
        s.http
            .get(&url)
            .header("authorization", format!("Basic {t}")),
        s.http
            .get(&url)
            .header("authorization", format!("Token {t}")),
        s.http
            .get(&url)
            .header("authorization", format!("Bearer{t}")),
        // Tokens outside the header are ignored (RFC 6750 §2.3 discouraged; our choice).
        s.http.get(format!("{url}?access_token={t}")),
        s.http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={t}")),
    ];
    for (i, rb) in reqs.into_iter().enumerate() {
        let r = rb.send().await.unwrap();
        let h = assert_json_error(r, 401, e_bearer_required()).await;
        assert_eq!(header(&h, "www-authenticate"), Some(BEARER), "case {i}");
    }
}

#[tokio::test]
async fn unknown_token_is_invalid_token() {
    let s = TestServer::start().await;
    for t in ["unknown", &random_verifier(), &"x".repeat(2000)] {
        let h = assert_json_error(s.userinfo(t).await, 401, e_invalid_token()).await;
        assert_eq!(header(&h, "www-authenticate"), Some(BEARER_INVALID));
    }
    // A refresh token or a code is not an access token.
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let rt = v["refresh_token"].as_str().unwrap();
    assert_json_error(s.userinfo(rt).await, 401, e_invalid_token()).await;
    let code = s.mint_code(&client, &sub, &["openid"]).await;
    assert_json_error(s.userinfo(&code.code).await, 401, e_invalid_token()).await;
}

#[tokio::test]
async fn expired_token_is_invalid_token() {
    let s = TestServer::start_with(|st| st.access_token_ttl = Duration::from_secs(1)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s.tokens(&client, &sub, &["openid", "phone"]).await;
    assert_eq!(v["expires_in"], 1);
    let t = v["access_token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let h = assert_json_error(s.userinfo(t).await, 401, e_invalid_token()).await;
    assert_eq!(header(&h, "www-authenticate"), Some(BEARER_INVALID));
}

#[tokio::test]
async fn token_without_openid_is_422() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["profile", "phone"]).await;
    assert_json_error(s.userinfo(&t).await, 422, e_no_openid()).await;
}

#[tokio::test]
async fn deleted_or_blocked_user_is_404() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_json_error(s.userinfo(&t).await, 404, e_no_profile()).await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/unblock"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.userinfo_status(&t).await,
        200,
        "unblocking restores access"
    );
    let r = s
        .admin("DELETE", &format!("/admin/v1/users/{sub}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(s.userinfo(&t).await, 404, e_no_profile()).await;
}

#[tokio::test]
async fn token_of_a_deleted_client_is_invalid() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/clients/{client}"), None)
        .await;
    assert_eq!(r.status(), 204);
    let h = assert_json_error(s.userinfo(&t).await, 401, e_invalid_token()).await;
    assert_eq!(header(&h, "www-authenticate"), Some(BEARER_INVALID));
}

#[tokio::test]
async fn store_failure_is_500_server_error() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let t = token_for(&s, &client, &sub, &["openid", "phone"]).await;
    s.fault.as_ref().unwrap().fail();
    assert_json_error(s.userinfo(&t).await, 500, json!({"error":"server_error"})).await;
    s.fault.as_ref().unwrap().pass();
    assert_eq!(s.userinfo_status(&t).await, 200);
}
