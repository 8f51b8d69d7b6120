//! Row 11 of the error table and the rules of codes: unknown and expired codes, the default
//! lifetime, single use (a replay revokes every token of the code's family), `redirect_uri`.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

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
