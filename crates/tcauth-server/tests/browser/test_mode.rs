//! Test mode on the sign-in pages over plain HTTP (CONTRACT.md §11): a test app's test number
//! signs in with its fixed code and the gateway gets no call; any other number is refused on
//! the phone page (403, the page again with the contract's sentence), nothing sent.

use super::support::{Agent, Setup};
use crate::common;
use serde_json::json;

pub const TEST_NUMBER: &str = "9876543210";
pub const TEST_CODE: &str = "424242";

/// A server whose app (`s.client_id`) is a test client with the test number
/// +91 [`TEST_NUMBER`] and the code [`TEST_CODE`].
pub async fn test_setup() -> Setup {
    let mut s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    let c = s
        .server
        .create_client_json(json!({
            "name": "Acme Test", "redirect_uris": [common::REDIRECT_URI],
            "scopes": ["openid", "profile", "phone"], "grant_types": ["authorization_code"],
            "mode": "test",
        }))
        .await;
    s.client_id = c["client_id"].as_str().unwrap().to_string();
    s.redirect_uri = common::REDIRECT_URI.to_string();
    let r = s
        .server
        .admin(
            "POST",
            &format!("/admin/v1/clients/{}/test-numbers", s.client_id),
            Some(json!({"phone_number": format!("+91{TEST_NUMBER}"), "otp": TEST_CODE})),
        )
        .await;
    assert_eq!(r.status(), 201);
    s
}

#[tokio::test]
async fn a_test_number_signs_in_with_its_fixed_code_and_nothing_is_sent() {
    let s = test_setup().await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid phone", "xyz", None);
    let phone_page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&phone_page, TEST_NUMBER).await;
    assert_eq!(code_page.status, 200, "{}", code_page.body);
    // Every other rule holds: a wrong code is wrong.
    let r = agent.enter_code(&code_page, "000000").await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = agent.enter_code(&r, TEST_CODE).await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/v1/auth/name"),
        "{}",
        r.body
    );
    assert_eq!(s.gateway.calls(), 0, "no message for a test number");
}

#[tokio::test]
async fn a_test_app_refuses_other_numbers_on_the_phone_page() {
    let s = test_setup().await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid phone", "xyz", None);
    let phone_page = agent.begin(&path).await;
    for _ in 0..2 {
        let r = agent
            .post(
                "/v1/auth/phone",
                &[
                    ("csrf", &phone_page.csrf()),
                    ("country", "IN"),
                    ("phone", "9800000001"),
                ],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body.contains("Number not registered for testing."),
            "{}",
            r.body
        );
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        // The page again, the number kept for correcting.
        assert!(r.body.contains("9800000001"), "{}", r.body);
    }
    assert_eq!(s.gateway.calls(), 0, "no code is sent");
    // The registered number still goes through: nothing was charged, nothing was spent.
    let code_page = agent.enter_phone(&phone_page, TEST_NUMBER).await;
    assert_eq!(code_page.status, 200);
    assert_eq!(s.gateway.calls(), 0);
}

#[tokio::test]
async fn after_live_the_test_number_gets_a_real_message() {
    let s = test_setup().await;
    let r = s
        .server
        .admin(
            "POST",
            &format!("/admin/v1/clients/{}/live", s.client_id),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid phone", "xyz", None);
    let phone_page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&phone_page, TEST_NUMBER).await;
    let sms = s.gateway.next().await;
    assert_eq!(sms.phone, format!("+91{TEST_NUMBER}"));
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/name"));
    assert_eq!(s.gateway.calls(), 1);
}
