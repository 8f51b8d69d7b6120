//! Row 12 of the error table and PKCE: a wrong or malformed verifier is refused and burns the
//! code; verifiers at the length bounds are accepted.

use crate::common::*;
use serde_json::json;

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
