//! POST /v1/revoke (RFC 7009): CONTRACT.md §3; checklist V1–V4.

use crate::common::*;
use serde_json::json;
use std::time::Duration;
use tcauth_core::model::RateLimit;

async fn assert_ok_empty(resp: reqwest::Response) {
    assert_json_error(resp, 200, json!({})).await;
}

#[tokio::test]
async fn parameter_errors() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for p in [
        vec![("client_id", client.as_str())],
        vec![("client_id", client.as_str()), ("token", "")],
        vec![("token", "abc")],
        vec![("token", "abc"), ("client_id", "")],
        vec![],
    ] {
        let (st, h, v) = json_of(s.revoke(&p).await).await;
        assert_eq!(
            (st, &v["error"]),
            (400, &json!("invalid_request")),
            "{p:?}: {v}"
        );
        assert_json_content_type(&h);
    }
    // Empty parameters come before the client check.
    let (st, _, v) = json_of(s.revoke(&[("client_id", "unknown-client")]).await).await;
    assert_eq!((st, &v["error"]), (400, &json!("invalid_request")), "{v}");
    assert_json_error(
        s.revoke(&[("client_id", "unknown-client"), ("token", "abc")])
            .await,
        403,
        e_invalid_client(),
    )
    .await;
    let r = s
        .http
        .post(s.url("/v1/revoke"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"client_id":"{client}","token":"abc"}}"#))
        .send()
        .await
        .unwrap();
    let (st, _, v) = json_of(r).await;
    assert_eq!((st, &v["error"]), (400, &json!("invalid_request")), "{v}");
}

#[tokio::test]
async fn empty_parameters_use_the_token_endpoint_wording() {
    // CONTRACT.md §3 says only "400 invalid_request"; we expect the token endpoint's wording.
    let s = TestServer::start().await;
    let client = s.full_client().await;
    assert_json_error(s.revoke(&[("client_id", &client)]).await, 400, e_empty()).await;
}

#[tokio::test]
async fn revoking_an_access_token_kills_it() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s.tokens(&client, &sub, &["openid", "phone"]).await;
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(s.userinfo_status(at).await, 200);
    assert_ok_empty(
        s.revoke(&[
            ("token", at),
            ("client_id", &client),
            ("token_type_hint", "access_token"),
        ])
        .await,
    )
    .await;
    assert_json_error(s.userinfo(at).await, 401, e_invalid_token()).await;
    // Revoking again is still 200.
    assert_ok_empty(s.revoke(&[("token", at), ("client_id", &client)]).await).await;
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let first = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let second = s
        .refresh_ok(&client, first["refresh_token"].as_str().unwrap())
        .await;
    let rt = second["refresh_token"].as_str().unwrap();
    // A wrong hint makes no difference (RFC 7009 §2.1).
    assert_ok_empty(
        s.revoke(&[
            ("token", rt),
            ("client_id", &client),
            ("token_type_hint", "access_token"),
        ])
        .await,
    )
    .await;
    assert_json_error(s.refresh(&client, rt, None).await, 403, e_invalid_refresh()).await;
    for v in [&first, &second] {
        let at = v["access_token"].as_str().unwrap();
        assert_json_error(s.userinfo(at).await, 401, e_invalid_token()).await;
    }
}

#[tokio::test]
async fn unknown_hint_or_token_is_200() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let rt = v["refresh_token"].as_str().unwrap();
    assert_ok_empty(
        s.revoke(&[
            ("token", rt),
            ("client_id", &client),
            ("token_type_hint", "banana"),
        ])
        .await,
    )
    .await;
    assert_json_error(s.refresh(&client, rt, None).await, 403, e_invalid_refresh()).await;
    for t in ["unknown", &random_verifier(), &"z".repeat(4000)] {
        assert_ok_empty(s.revoke(&[("token", t), ("client_id", &client)]).await).await;
    }
}

#[tokio::test]
async fn token_of_another_client_is_not_revoked() {
    let s = TestServer::start().await;
    let owner = s.full_client().await;
    let other = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&owner, &sub, &["openid", "phone", "offline_access"])
        .await;
    let at = v["access_token"].as_str().unwrap();
    let rt = v["refresh_token"].as_str().unwrap();
    for t in [at, rt] {
        assert_ok_empty(s.revoke(&[("token", t), ("client_id", &other)]).await).await;
    }
    assert_eq!(s.userinfo_status(at).await, 200);
    s.refresh_ok(&owner, rt).await;
}

#[tokio::test]
async fn revocation_is_rate_limited_per_client() {
    let s = TestServer::start().await;
    let v = s
        .create_client_json(json!({
            "name": "Limited", "redirect_uris": [REDIRECT_URI], "scopes": ["phone"],
            "grant_types": ["authorization_code"], "rate_limit": {"per_second": 1, "burst": 2},
        }))
        .await;
    let client = v["client_id"].as_str().unwrap();
    for _ in 0..2 {
        assert_ok_empty(s.revoke(&[("token", "x"), ("client_id", client)]).await).await;
    }
    let h = assert_json_error(
        s.revoke(&[("token", "x"), ("client_id", client)]).await,
        429,
        e_too_many(),
    )
    .await;
    assert!(retry_after(&h) >= 1);
}

#[tokio::test]
async fn revocation_is_rate_limited_per_ip_without_client_id() {
    let s = TestServer::start_with(|st| {
        st.ip_rate_limit = RateLimit {
            per_second: 1,
            burst: 1,
        }
    })
    .await;
    let (st, _, _) = json_of(s.revoke(&[("token", "x")]).await).await;
    assert_eq!(st, 400);
    let h = assert_json_error(s.revoke(&[("token", "x")]).await, 429, e_too_many()).await;
    assert!(retry_after(&h) >= 1);
}

#[tokio::test]
async fn store_outage_is_503_never_200() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s.tokens(&client, &sub, &["openid", "phone"]).await;
    let at = v["access_token"].as_str().unwrap().to_string();
    let fault = s.fault.clone().unwrap();
    for mode in ["fail", "hang"] {
        if mode == "fail" {
            fault.fail()
        } else {
            fault.hang()
        }
        let r = s.revoke(&[("token", &at), ("client_id", &client)]).await;
        let h = assert_json_error(r, 503, e_unavailable()).await;
        assert!(retry_after(&h) >= 1, "{mode}");
    }
    fault.pass();
    assert_eq!(s.userinfo_status(&at).await, 200, "nothing was revoked");
    assert_ok_empty(s.revoke(&[("token", &at), ("client_id", &client)]).await).await;
}
