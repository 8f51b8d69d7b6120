//! Sign-in journeys in a real headless Chromium: the whole flow to tokens and userinfo, Deny,
//! five wrong codes, an expired code, a bad redirect URI. Screenshots of every page at 360 px
//! and 1280 px go to `target/screenshots/`.

use super::pages::id_token_claims;
use super::support::{Callback, Setup};
use super::webdriver::{enabled, Browser, DESKTOP, PHONE};
use crate::common::{self, json_of};
use std::time::Duration;

async fn setup_with(f: impl FnOnce(&mut tcauth_server::Settings)) -> (Setup, Callback) {
    let cb = Callback::start().await;
    let s = Setup::start(&cb.uri, f).await;
    (s, cb)
}

/// From the phone page to the code page, entering `phone` in national form.
async fn enter_phone(b: &Browser, phone: &str) {
    b.wait_path("/v1/auth/phone").await;
    b.css("select#country")
        .await
        .select_by_value("IN")
        .await
        .unwrap();
    b.type_into("input[name=phone]", phone.trim_start_matches("+91"))
        .await;
    b.click("form button[type=submit]").await;
    b.wait_path("/v1/auth/code").await;
}

async fn enter_code(b: &Browser, code: &str) {
    b.type_into("input[name=code]", code).await;
    b.click("form[action='/v1/auth/code'] button[type=submit]")
        .await;
}

#[tokio::test]
async fn new_user_signs_in_and_the_app_gets_tokens_and_userinfo() {
    if !enabled("new_user_signs_in_and_the_app_gets_tokens_and_userinfo") {
        return;
    }
    let (s, cb) = setup_with(|_| {}).await;
    let b = Browser::start(PHONE).await;
    assert_eq!(b.viewport_width().await, 360, "a phone-sized viewport");
    let (path, verifier) = s.auth_path(
        "openid profile phone offline_access",
        "st-1",
        Some("nonce-1"),
    );
    b.goto(&s.server.url(&path)).await;
    b.wait_path("/v1/auth/phone").await;
    assert!(
        b.text().await.contains("Acme Shop"),
        "the app's name is shown"
    );
    b.screenshots("1-phone", PHONE).await;

    // A bad number first: a clear message on the same page.
    b.type_into("input[name=phone]", "12345").await;
    b.click("form button[type=submit]").await;
    b.css("#phone-error").await;
    assert!(b.text().await.contains("not a mobile number of India"));
    b.screenshots("1b-phone-bad-number", PHONE).await;

    let phone = common::unique_phone();
    enter_phone(&b, &phone).await;
    let sms = s.gateway.next().await;
    assert_eq!(sms.phone, phone);
    assert!(b
        .text()
        .await
        .contains(&tcauth_core::phone::display(&phone)));
    let autocomplete = b
        .css("input[name=code]")
        .await
        .attr("autocomplete")
        .await
        .unwrap();
    assert_eq!(autocomplete.as_deref(), Some("one-time-code"));
    b.screenshots("2-code", PHONE).await;

    let wrong = if sms.code == "999999" {
        "000000"
    } else {
        "999999"
    };
    enter_code(&b, wrong).await;
    b.css("#code-error").await;
    assert!(b.text().await.contains("You have 4 tries left"));
    b.screenshots("2b-code-wrong", PHONE).await;

    enter_code(&b, &sms.code).await;
    b.wait_path("/v1/auth/name").await;
    assert!(b.text().await.contains("Acme Shop"));
    b.screenshots("3-name", PHONE).await;
    b.type_into("input[name=given_name]", "Asha").await;
    b.type_into("input[name=family_name]", "Rao").await;
    b.click("form button[type=submit]").await;

    b.wait_path("/v1/auth/consent").await;
    let text = b.text().await;
    for want in [
        "Login to Acme Shop",
        "See your phone number",
        "Keep you signed in",
        "Allow",
        "Deny",
    ] {
        assert!(text.contains(want), "consent lacks {want:?}: {text}");
    }
    b.screenshots("4-consent", PHONE).await;
    b.click("button[value=allow]").await;

    let q = cb.next().await;
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], s.server.base);
    assert!(
        b.url().await.starts_with(&cb.uri),
        "the browser is back in the app"
    );
    let code = common::Code {
        code: q["code"].clone(),
        verifier,
        challenge: String::new(),
    };
    let tokens = s.server.exchange_ok(&s.client_id, &code).await;
    assert!(tokens["refresh_token"].is_string());
    let claims = id_token_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "nonce-1");
    let (st, _, info) = json_of(
        s.server
            .userinfo(tokens["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["given_name"], "Asha");
    assert_eq!(info["family_name"], "Rao");
    assert_eq!(info["phone_number"], phone.trim_start_matches('+'));
    b.close().await;
}

#[tokio::test]
async fn deny_sends_access_denied_back_to_the_app() {
    if !enabled("deny_sends_access_denied_back_to_the_app") {
        return;
    }
    let (s, cb) = setup_with(|_| {}).await;
    s.server.create_user().await;
    let b = Browser::start(DESKTOP).await;
    let (path, _) = s.auth_path("openid phone", "st-deny", None);
    b.goto(&s.server.url(&path)).await;
    enter_phone(&b, common::PHONE).await;
    let sms = s.gateway.next().await;
    enter_code(&b, &sms.code).await;
    // A known number goes straight to consent.
    b.wait_path("/v1/auth/consent").await;
    b.click("button[value=deny]").await;
    let q = cb.next().await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-deny");
    assert_eq!(q["iss"], s.server.base);
    assert!(!q.contains_key("code"));
    b.close().await;
}

#[tokio::test]
async fn five_wrong_codes_lock_the_code() {
    if !enabled("five_wrong_codes_lock_the_code") {
        return;
    }
    let (s, _cb) = setup_with(|_| {}).await;
    let b = Browser::start(PHONE).await;
    let (path, _) = s.auth_path("openid", "st", None);
    b.goto(&s.server.url(&path)).await;
    enter_phone(&b, &common::unique_phone()).await;
    let sms = s.gateway.next().await;
    let wrong = if sms.code == "123456" {
        "654321"
    } else {
        "123456"
    };
    for left in (0..5).rev() {
        enter_code(&b, wrong).await;
        b.css("#code-error").await;
        let text = b.text().await;
        if left > 0 {
            assert!(text.contains(&format!("You have {left} tr")), "{text}");
        } else {
            assert!(text.contains("cannot be used any more"), "{text}");
        }
    }
    enter_code(&b, &sms.code).await;
    b.css("#code-error").await;
    assert!(b.text().await.contains("Too many wrong codes"));
    assert_eq!(
        b.path().await,
        "/v1/auth/code",
        "the right code no longer opens it"
    );
    b.screenshots("2c-code-locked", PHONE).await;
    b.close().await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    if !enabled("an_expired_code_is_refused") {
        return;
    }
    let (s, _cb) = setup_with(|st| st.otp_ttl = Duration::from_secs(1)).await;
    let b = Browser::start(DESKTOP).await;
    let (path, _) = s.auth_path("openid", "st", None);
    b.goto(&s.server.url(&path)).await;
    enter_phone(&b, &common::unique_phone()).await;
    let sms = s.gateway.next().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    enter_code(&b, &sms.code).await;
    b.css("#code-error").await;
    assert!(b.text().await.contains("This code has expired"));
    b.close().await;
}

#[tokio::test]
async fn a_bad_redirect_uri_shows_the_error_page_and_goes_nowhere() {
    if !enabled("a_bad_redirect_uri_shows_the_error_page_and_goes_nowhere") {
        return;
    }
    let (s, cb) = setup_with(|_| {}).await;
    let b = Browser::start(PHONE).await;
    let (path, _) = s.auth_path("openid", "st", None);
    let evil = path.replace(
        &super::support::encode(&[("x", cb.uri.clone())])[2..],
        &super::support::encode(&[("x", format!("{}/../evil", cb.uri))])[2..],
    );
    assert_ne!(evil, path);
    b.goto(&s.server.url(&evil)).await;
    b.css("h1").await;
    assert!(b.text().await.contains("This sign-in link is not valid"));
    assert_eq!(b.path().await, "/v1/auth", "no redirect");
    b.screenshots("5-error", PHONE).await;
    // Nothing reached the app.
    let nothing = tokio::time::timeout(Duration::from_millis(300), cb.next()).await;
    assert!(nothing.is_err(), "the app was visited: {nothing:?}");
    b.close().await;
}

/// CONTRACT.md §9 in a real browser at 360 px: the deep link's query opened at
/// `/v1/web/verify`, sign-in, the dialog with the link's options, Continue; a real receiver
/// (started here) gets exactly one callback, signed with the registered secret, whose token
/// reads `/v1/default`.
#[tokio::test]
async fn the_web_dialog_is_answered_in_a_browser_and_the_receiver_gets_one_callback() {
    if !enabled("the_web_dialog_is_answered_in_a_browser_and_the_receiver_gets_one_callback") {
        return;
    }
    let rx = tcauth_testkit::receiver::Receiver::start(vec![]).await;
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    let (st, _, client) = json_of(
        s.server
            .admin(
                "POST",
                "/admin/v1/clients",
                Some(serde_json::json!({
                    "name": "Acme Web",
                    "redirect_uris": [common::REDIRECT_URI],
                    "scopes": ["openid", "profile", "phone"],
                    "grant_types": ["authorization_code"],
                    "callback_url": rx.url("/truecaller/callback"),
                })),
            )
            .await,
    )
    .await;
    assert_eq!(st, 201, "{client}");
    let app_key = client["app_key"].as_str().unwrap();
    let secret = client["callback_secret"].as_str().unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let nonce = super::web::nonce();
    let path = super::web::verify_path(
        app_key,
        &nonce,
        &[
            ("loginPrefix", "placeorder"),
            ("ctaPrefix", "continuewith"),
            ("ctaColor", "#0b6e4f"),
            ("btnShape", "rect"),
            ("skipOption", "later"),
            ("privacyUrl", "https://acme.example/privacy"),
            ("termsUrl", "https://acme.example/terms"),
        ],
    );

    let b = Browser::start(PHONE).await;
    b.goto(&s.server.url(&path)).await;
    b.wait_path("/v1/auth/phone").await;
    assert!(
        b.text().await.contains("Acme Checkout"),
        "partnerName shown"
    );
    let phone = common::unique_phone();
    enter_phone(&b, &phone).await;
    let sms = s.gateway.next().await;
    enter_code(&b, &sms.code).await;
    b.wait_path("/v1/auth/name").await;
    b.type_into("input[name=given_name]", "Asha").await;
    b.type_into("input[name=family_name]", "Rao").await;
    b.click("form button[type=submit]").await;

    b.wait_path("/v1/auth/consent").await;
    let number = tcauth_core::phone::display(&phone);
    let text = b.text().await;
    for want in [
        "Place your order to log in",
        "Acme Checkout will receive:",
        "Asha Rao",
        &format!("Continue with {number}"),
        "Don’t share",
        "Later",
        "privacy policy",
        "terms of service",
    ] {
        assert!(text.contains(want), "the dialog lacks {want:?}: {text}");
    }
    assert_eq!(b.viewport_width().await, 360);
    assert!(!b.overflows().await, "the dialog fits a 360 px screen");
    b.screenshots("web-1-dialog", PHONE).await;
    assert_eq!(rx.count(), 0, "nothing is posted before the answer");
    b.click("#cta").await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !b
            .text()
            .await
            .contains("Your profile was shared with Acme Checkout")
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the done page");
    b.screenshots("web-2-done", PHONE).await;

    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.count() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("one callback within 10 s");
    let c = rx.calls().remove(0);
    assert_eq!(
        (c.method.as_str(), c.path.as_str()),
        ("POST", "/truecaller/callback")
    );
    assert_eq!(c.header("content-type"), Some("application/json"));
    let want_sig = format!(
        "sha256={}",
        tcauth_core::secret::hex(&tcauth_core::secret::hmac_sha256(
            secret.as_bytes(),
            &c.body
        ))
    );
    assert_eq!(c.header("x-tcauth-signature"), Some(want_sig.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
    let token = body["accessToken"].as_str().unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "requestId": nonce,
            "accessToken": token,
            "endpoint": format!("{}/v1/default", s.server.base),
        })
    );
    let r = s
        .server
        .http
        .get(s.server.url("/v1/default"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (st, _, profile) = json_of(r).await;
    assert_eq!(st, 200, "{profile}");
    assert_eq!(
        profile["name"],
        serde_json::json!({"first": "Asha", "last": "Rao"})
    );
    // Exactly one, and the log says so.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.count(), 1);
    let (st, _, log) = json_of(
        s.server
            .admin(
                "GET",
                &format!("/admin/v1/clients/{client_id}/deliveries"),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(st, 200);
    let d = &log["deliveries"][0];
    assert_eq!(
        (
            d["status"].as_str(),
            d["attempts"].as_u64(),
            d["request_id"].as_str()
        ),
        (Some("delivered"), Some(1), Some(nonce.as_str()))
    );
    assert_eq!(c.header("x-tcauth-delivery"), d["id"].as_str());
    b.close().await;
}

/// CONTRACT.md §11: a test app's test number signs in in Chromium with its fixed code; the
/// SMS gateway gets no call. Another number first gets the contract's sentence on the page.
#[tokio::test]
async fn a_test_number_signs_in_with_its_fixed_code_and_no_sms() {
    if !enabled("a_test_number_signs_in_with_its_fixed_code_and_no_sms") {
        return;
    }
    let (mut s, cb) = setup_with(|_| {}).await;
    let c = s
        .server
        .create_client_json(serde_json::json!({
            "name": "Acme Test", "redirect_uris": [cb.uri],
            "scopes": ["openid", "phone"], "grant_types": ["authorization_code"],
            "mode": "test",
        }))
        .await;
    s.client_id = c["client_id"].as_str().unwrap().to_string();
    let r = s
        .server
        .admin(
            "POST",
            &format!("/admin/v1/clients/{}/test-numbers", s.client_id),
            Some(serde_json::json!({"phone_number": "+919876543210", "otp": "314159"})),
        )
        .await;
    assert_eq!(r.status(), 201);

    let b = Browser::start(PHONE).await;
    let (path, verifier) = s.auth_path("openid phone", "st-t", None);
    b.goto(&s.server.url(&path)).await;
    b.wait_path("/v1/auth/phone").await;
    b.type_into("input[name=phone]", "9800000001").await;
    b.click("form button[type=submit]").await;
    b.css("#phone-error").await;
    assert!(b
        .text()
        .await
        .contains("Number not registered for testing."));
    b.screenshots("t1-phone-not-registered", PHONE).await;

    enter_phone(&b, "9876543210").await;
    enter_code(&b, "314159").await;
    b.wait_path("/v1/auth/name").await;
    b.type_into("input[name=given_name]", "Asha").await;
    b.type_into("input[name=family_name]", "Rao").await;
    b.click("form button[type=submit]").await;
    b.wait_path("/v1/auth/consent").await;
    b.click("button[value=allow]").await;

    let q = cb.next().await;
    assert_eq!(q["state"], "st-t");
    let code = common::Code {
        code: q["code"].clone(),
        verifier,
        challenge: String::new(),
    };
    let tokens = s.server.exchange_ok(&s.client_id, &code).await;
    let (st, _, info) = json_of(
        s.server
            .userinfo(tokens["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(
        (st, info["phone_number"].as_str()),
        (200, Some("919876543210")),
        "{info}"
    );
    assert_eq!(s.gateway.calls(), 0, "no SMS for a test number");
    b.close().await;
}
