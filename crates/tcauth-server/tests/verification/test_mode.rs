//! Test mode in the verification API (CONTRACT.md §11): a test client's test number gets its
//! fixed code without a webhook call, every other number 403 with nothing sent or charged;
//! after `…/live` the test number is an ordinary number.

use super::*;

const TEST_NUMBER: &str = "+919876543210";

fn not_registered() -> Value {
    json!({"code": 403, "message": "Number not registered for testing."})
}

/// A test client with the test number [`TEST_NUMBER`] and the code `123456`.
async fn test_partner(s: &TestServer) -> String {
    let c = s
        .create_client_json(json!({"name": "Shop", "redirect_uris": [REDIRECT_URI],
            "scopes": ["openid", "phone"], "grant_types": ["authorization_code"], "mode": "test"}))
        .await;
    let id = c["client_id"].as_str().unwrap().to_string();
    let r = s
        .admin(
            "POST",
            &format!("/admin/v1/clients/{id}/test-numbers"),
            Some(json!({"phone_number": TEST_NUMBER, "otp": "123456"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    id
}

#[tokio::test]
async fn a_test_number_gets_its_fixed_code_and_no_message() {
    let (s, rx) = start(|_| {}).await;
    let id = test_partner(&s).await;
    // National with the country, as elsewhere: the same number.
    let (st, _, v) = json_of(request(&s, &id, number("98765 43210")).await).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["method"].as_str(), v["ttl"].is_u64()),
        (Some("otp"), true)
    );
    let vid = v["verificationId"].as_str().unwrap();
    assert_eq!(rx.count(), 0, "no message for a test number");

    // Attempts hold: a wrong code spends one.
    assert_json_error(
        verify(&s, &id, verify_body(vid, "000000")).await,
        400,
        json!({"code": 400, "message": "Invalid OTP.", "attemptsLeft": 4}),
    )
    .await;
    let token = verify_ok(&s, &id, vid, "123456").await;
    assert!(!token.is_empty());
    // Single use.
    assert_json_error(
        verify(&s, &id, verify_body(vid, "123456")).await,
        400,
        json!({"code": 400, "message": "Invalid OTP."}),
    )
    .await;
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn a_test_client_refuses_other_numbers_with_403_and_charges_nothing() {
    // The number's resend cooldown (30 s) would turn a charged refusal into a later 429.
    let (s, rx) = start(|_| {}).await;
    let id = test_partner(&s).await;
    for _ in 0..3 {
        assert_json_error(
            request(&s, &id, json!({"phoneNumber": "+919800000001"})).await,
            403,
            not_registered(),
        )
        .await;
    }
    assert_eq!(rx.count(), 0, "no code is sent");
    let tables = s.dump_tables();
    let otp = tables.iter().find(|(t, _)| t == "otp_challenges").unwrap();
    assert!(otp.1.is_empty(), "nothing stored");

    // The same number for a live client is sent as ever: no limit was spent on it.
    let live = partner(&s).await;
    request_ok(&s, &rx, &live, json!({"phoneNumber": "+919800000001"})).await;
}

#[tokio::test]
async fn after_live_the_test_number_is_an_ordinary_number() {
    let (s, rx) = start(|_| {}).await;
    let id = test_partner(&s).await;
    let r = s
        .admin("POST", &format!("/admin/v1/clients/{id}/live"), None)
        .await;
    assert_eq!(r.status(), 200);
    let (vid, code) = request_ok(&s, &rx, &id, number(TEST_NUMBER)).await;
    assert_eq!(rx.last().json()["phone_number"], TEST_NUMBER);
    if code != "123456" {
        assert_json_error(
            verify(&s, &id, verify_body(&vid, "123456")).await,
            400,
            json!({"code": 400, "message": "Invalid OTP.", "attemptsLeft": 4}),
        )
        .await;
    }
    verify_ok(&s, &id, &vid, &code).await;
    // And any other number too.
    request_ok(&s, &rx, &id, json!({"phoneNumber": "+919800000002"})).await;
}
