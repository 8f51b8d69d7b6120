//! The sign-in pages over plain HTTP (no browser): the whole flow, the security headers of
//! every page, the CSRF matrix, cookies, wrong and expired codes, send failures and limits.

use super::support::{Agent, Page, Setup};
use crate::common::{self, json_of};
use serde_json::Value;

/// Checklist B1, B2, B8.
pub fn assert_page_headers(p: &Page, https: bool) {
    let csp = p.header("content-security-policy").expect("CSP");
    for d in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(d), "CSP {csp:?} lacks {d}");
    }
    assert!(!csp.contains("script-src"), "no scripts at all: {csp}");
    assert_eq!(p.header("x-frame-options"), Some("DENY"));
    assert_eq!(p.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(p.header("cache-control"), Some("no-store"));
    assert_eq!(p.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(p.header("cross-origin-opener-policy"), Some("same-origin"));
    assert!(
        p.header("access-control-allow-origin").is_none(),
        "no CORS on pages"
    );
    match (https, p.header("strict-transport-security")) {
        (true, Some(h)) => {
            let age: u64 = h
                .trim_start_matches("max-age=")
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(age >= 31_536_000, "{h}");
        }
        (false, None) => {}
        (want, got) => panic!("HSTS wanted: {want}, got {got:?}"),
    }
    if p.status == 200
        || p.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    {
        assert_eq!(p.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(!p.body.contains("<script"), "pages need no JavaScript");
        for third_party in ["http://", "https://"] {
            // The only absolute URLs a page may hold are the app's own links on consent.
            let n = p.body.matches(third_party).count();
            assert!(n <= 2, "{n} absolute URLs in the page");
        }
    }
}

/// Checklist B4 (`__Host-` and `Secure` only with an https issuer).
pub fn assert_cookie_attributes(c: &str, https: bool) {
    let parts: Vec<&str> = c.split(';').map(str::trim).collect();
    for want in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(parts.contains(&want), "{c} lacks {want}");
    }
    assert!(!c.contains("Domain="), "{c}");
    assert_eq!(parts.contains(&"Secure"), https, "{c}");
    assert_eq!(c.starts_with("__Host-"), https, "{c}");
    let max_age: i64 = parts
        .iter()
        .find_map(|p| p.strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .unwrap();
    assert!((0..=600).contains(&max_age), "{c}");
}

async fn setup() -> Setup {
    Setup::start(common::REDIRECT_URI, |_| {}).await
}

/// Walks a new number up to the consent page; (agent, consent page, phone).
async fn to_consent(s: &Setup, scope: &str, nonce: Option<&str>) -> (Agent, Page, String) {
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path(scope, "xyz", nonce);
    let phone_page = agent.begin(&path).await;
    assert_page_headers(&phone_page, false);
    let phone = common::unique_phone();
    let code_page = agent.enter_phone(&phone_page, &phone).await;
    assert_eq!(code_page.status, 200, "{}", code_page.body);
    let sms = s.gateway.next().await;
    assert_eq!(
        (sms.phone.as_str(), sms.purpose.as_str()),
        (phone.as_str(), "login")
    );
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/name"));
    let name_page = agent.get("/v1/auth/name").await;
    let r = agent
        .post(
            "/v1/auth/name",
            &[
                ("csrf", &name_page.csrf()),
                ("given_name", "Asha"),
                ("family_name", "Rao"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/consent"));
    let consent = agent.get("/v1/auth/consent").await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    (agent, consent, phone)
}

#[tokio::test]
async fn the_whole_flow_over_http_ends_in_tokens_and_userinfo() {
    let s = setup().await;
    let mut agent = Agent::new(&s.server);
    let (path, verifier) = s.auth_path("openid profile phone", "xyz", Some("n-0S6"));
    let phone_page = agent.begin(&path).await;
    assert!(
        phone_page.body.contains(r#"type="tel""#)
            && phone_page.body.contains(r#"autocomplete="tel""#)
    );
    assert!(phone_page.body.contains(r#"<option value="IN" selected>"#));
    let phone = common::unique_phone();
    let code_page = agent.enter_phone(&phone_page, &phone).await;
    assert!(code_page.body.contains(r#"autocomplete="one-time-code""#));
    assert!(code_page.body.contains(r#"inputmode="numeric""#));
    let sms = s.gateway.next().await;
    assert_eq!(sms.expires_in, 300);
    for page in ["/v1/auth/name", "/v1/auth/consent"] {
        // Later pages are not reachable yet: back to the current one.
        let r = agent.get(page).await;
        assert_eq!((r.status, r.location()), (303, "/v1/auth/code"), "{page}");
    }
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/name"));
    let name_page = agent.get("/v1/auth/name").await;
    assert_page_headers(&name_page, false);
    // The contract's name rule.
    for (given, family) in [
        ("12345", "Rao"),
        ("Asha", "!!!"),
        ("", "Rao"),
        (&"a".repeat(129)[..], "Rao"),
    ] {
        let r = agent
            .post(
                "/v1/auth/name",
                &[
                    ("csrf", &name_page.csrf()),
                    ("given_name", given),
                    ("family_name", family),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{given:?} {family:?}");
        assert!(
            r.body.contains("at least one letter") || r.body.contains("last name too"),
            "{}",
            r.body
        );
    }
    let r = agent
        .post(
            "/v1/auth/name",
            &[
                ("csrf", &name_page.csrf()),
                ("given_name", " Asha "),
                ("family_name", "Rao"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/consent"));
    let consent = agent.get("/v1/auth/consent").await;
    assert_page_headers(&consent, false);
    for want in [
        "Login to Acme Shop",
        "Sign you in",
        "See your name and profile",
        "See your phone number",
        ">Allow<",
        ">Deny<",
    ] {
        assert!(consent.body.contains(want), "consent lacks {want:?}");
    }
    let shown = tcauth_core::phone::display(&phone);
    assert!(
        consent.body.contains(&shown),
        "consent shows the number {shown}"
    );
    // The consent form's redirect goes to the app: its origin is admitted by form-action.
    let csp = consent.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &consent.csrf()), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location()
            .starts_with(&format!("{}?", common::REDIRECT_URI)),
        "{}",
        r.location()
    );
    let q = r.location_query();
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], s.server.base);
    assert!(!q.contains_key("error"));
    // The interaction is over: its cookie is deleted.
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(agent.cookie.is_none());

    let code = common::Code {
        code: q["code"].clone(),
        verifier,
        challenge: String::new(),
    };
    let tokens = s.server.exchange_ok(&s.client_id, &code).await;
    assert_eq!(tokens["scope"], "openid profile phone");
    let (st, _, info) = json_of(
        s.server
            .userinfo(tokens["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["given_name"], "Asha");
    assert_eq!(info["family_name"], "Rao");
    assert_eq!(info["phone_number"], phone.trim_start_matches('+'));
    let claims = id_token_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["sub"], info["sub"]);
    assert_eq!(claims["iss"], s.server.base);
    // The code was for one use, and the pages cannot be replayed without the cookie.
    assert_eq!(s.server.exchange(&s.client_id, &code).await.status(), 403);
    let again = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &consent.csrf()), ("decision", "allow")],
        )
        .await;
    assert_eq!(again.status, 403);
}

pub fn id_token_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_known_number_skips_the_name_page_and_keeps_its_account() {
    let s = setup().await;
    let sub = s.server.create_user().await; // +919876543210, Asha Rao
    let mut agent = Agent::new(&s.server);
    let (path, verifier) = s.auth_path("openid phone", "k", None);
    let page = agent.begin(&path).await;
    // National form with the country chosen.
    let r = agent
        .post(
            "/v1/auth/phone",
            &[
                ("csrf", &page.csrf()),
                ("country", "IN"),
                ("phone", "98765 43210"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/code"));
    let code_page = agent.get("/v1/auth/code").await;
    let sms = s.gateway.next().await;
    assert_eq!(sms.phone, common::PHONE);
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/consent"));
    let consent = agent.get("/v1/auth/consent").await;
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &consent.csrf()), ("decision", "allow")],
        )
        .await;
    let code = common::Code {
        code: r.location_query()["code"].clone(),
        verifier,
        challenge: String::new(),
    };
    let tokens = s.server.exchange_ok(&s.client_id, &code).await;
    assert_eq!(
        id_token_claims(tokens["id_token"].as_str().unwrap())["sub"],
        sub
    );
}

#[tokio::test]
async fn deny_returns_access_denied_with_state_and_iss() {
    let s = setup().await;
    let (mut agent, consent, _) = to_consent(&s, "openid", None).await;
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &consent.csrf()), ("decision", "deny")],
        )
        .await;
    assert_eq!(r.status, 303);
    let q = r.location_query();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], s.server.base);
    assert!(!q.contains_key("code"));
    assert!(agent.cookie.is_none());
    assert_eq!(count_codes(&s), 0);
}

fn count_codes(s: &Setup) -> usize {
    s.server
        .dump_tables()
        .into_iter()
        .find(|(t, _)| t == "auth_codes")
        .map_or(0, |(_, rows)| rows.len())
}

#[tokio::test]
async fn every_post_needs_the_cookie_and_its_csrf_token() {
    let s = setup().await;
    // Reach each stage, then try its POST without the token, with a wrong one, with another
    // interaction's, and without the cookie; nothing may change.
    let (mut agent, consent, _) = to_consent(&s, "openid", None).await;
    let mut other = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "o", None);
    let other_page = other.begin(&path).await;
    let sends = s.gateway.calls();
    let attempts: [(&str, &[(&str, &str)]); 5] = [
        (
            "/v1/auth/phone",
            &[("country", "IN"), ("phone", "9876543219")],
        ),
        ("/v1/auth/code", &[("code", "123456")]),
        ("/v1/auth/code/resend", &[]),
        (
            "/v1/auth/name",
            &[("given_name", "Eve"), ("family_name", "X")],
        ),
        ("/v1/auth/consent", &[("decision", "allow")]),
    ];
    let good = consent.csrf();
    let foreign = other_page.csrf();
    assert_ne!(good, foreign);
    for (path, fields) in attempts {
        for token in [
            None,
            Some("0".repeat(32).as_str()),
            Some(""),
            Some(foreign.as_str()),
        ] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let r = agent.post(path, &form).await;
            assert_eq!(r.status, 403, "{path} with {token:?}: {}", r.body);
            assert!(r.body.contains("We could not verify this request"));
            assert!(r.header("set-cookie").is_none(), "{path}: no state change");
            assert_page_headers(&r, false);
        }
        // The right token without the cookie (a cross-site POST: SameSite keeps it home).
        let saved = agent.cookie.take();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &good));
        let r = agent.post(path, &form).await;
        assert_eq!(r.status, 403, "{path} without the cookie");
        agent.cookie = saved;
    }
    assert_eq!(s.gateway.calls(), sends, "no code was sent");
    assert_eq!(count_codes(&s), 0, "no authorization code was minted");
    // A tampered cookie is no cookie.
    let mut tampered = agent.cookie.clone().unwrap();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let saved = agent.cookie.replace(tampered);
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &good), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = agent.get("/v1/auth/consent").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("No sign-in in progress"));
    // The genuine interaction still works after all that.
    agent.cookie = saved;
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &good), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location_query().contains_key("code"));
    // A page with no sign-in in progress.
    let r = Agent::new(&s.server).get("/v1/auth/code").await;
    assert_eq!(r.status, 400);
    assert_page_headers(&r, false);
}

#[tokio::test]
async fn wrong_codes_count_down_and_the_fifth_burns_the_code() {
    let s = setup().await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "w", None);
    let page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&page, &common::unique_phone()).await;
    let sms = s.gateway.next().await;
    let wrong = if sms.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = agent.enter_code(&code_page, "12ab").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Enter the 6-digit code"),
        "malformed input costs no attempt"
    );
    for left in (1..=4).rev() {
        let r = agent.enter_code(&code_page, wrong).await;
        assert_eq!(r.status, 400);
        let want = format!(
            "You have {left} {} left",
            if left == 1 { "try" } else { "tries" }
        );
        assert!(r.body.contains(&want), "want {want:?}: {}", r.body);
        assert_page_headers(&r, false);
    }
    let r = agent.enter_code(&code_page, wrong).await;
    assert!(r.body.contains("cannot be used any more"), "{}", r.body);
    // Now even the right code is refused.
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Too many wrong codes"), "{}", r.body);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let s = Setup::start(common::REDIRECT_URI, |st| {
        st.otp_ttl = std::time::Duration::from_secs(1)
    })
    .await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "e", None);
    let page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&page, &common::unique_phone()).await;
    let sms = s.gateway.next().await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("expired"), "{}", r.body);
}

#[tokio::test]
async fn resend_waits_for_the_cooldown_then_sends_a_new_code() {
    let s = Setup::start(common::REDIRECT_URI, |st| {
        st.otp_send_limits.resend_cooldown = std::time::Duration::from_secs(2)
    })
    .await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "r", None);
    let page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&page, &common::unique_phone()).await;
    assert!(
        code_page.body.contains("You can ask for a new code in"),
        "{}",
        code_page.body
    );
    let first = s.gateway.next().await;
    let r = agent
        .post("/v1/auth/code/resend", &[("csrf", &code_page.csrf())])
        .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = agent
        .post("/v1/auth/code/resend", &[("csrf", &code_page.csrf())])
        .await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/code"));
    let code_page = agent.get("/v1/auth/code").await;
    assert!(code_page.body.contains("We sent you a new code"));
    let second = s.gateway.next().await;
    // The replaced code opens nothing; the new one does.
    if first.code != second.code {
        let r = agent.enter_code(&code_page, &first.code).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    let r = agent.enter_code(&code_page, &second.code).await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/v1/auth/name"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn bad_numbers_failing_gateways_and_send_limits_show_on_the_phone_page() {
    let s = setup().await;
    let mut agent = Agent::new(&s.server);
    let (path, _) = s.auth_path("openid", "p", None);
    let page = agent.begin(&path).await;
    for (input, want) in [
        ("", "Enter your phone number"),
        ("hello", "does not look like a phone number"),
        ("12345", "not a mobile number of India"),
        ("+91 22 2345 6789", "not a mobile number of India"),
    ] {
        let r = agent
            .post(
                "/v1/auth/phone",
                &[("csrf", &page.csrf()), ("country", "IN"), ("phone", input)],
            )
            .await;
        assert_eq!(r.status, 400, "{input:?}");
        assert!(
            r.body.contains(want),
            "{input:?}: want {want:?}: {}",
            r.body
        );
        assert!(r.body.contains(r#"aria-invalid="true""#));
    }
    assert_eq!(s.gateway.calls(), 0);
    s.gateway.fail(true);
    let r = agent
        .post(
            "/v1/auth/phone",
            &[
                ("csrf", &page.csrf()),
                ("country", "IN"),
                ("phone", &common::unique_phone()),
            ],
        )
        .await;
    assert_eq!(r.status, 503, "a failing gateway is not a 500");
    assert!(
        r.body
            .contains("We could not send the code. Try again in a minute."),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"name="phone""#), "still the phone page");
    assert_page_headers(&r, false);
    s.gateway.fail(false);
    // The same number within its cooldown: the limit, with the same page.
    let phone = common::unique_phone();
    let ok = agent
        .post(
            "/v1/auth/phone",
            &[("csrf", &page.csrf()), ("country", "IN"), ("phone", &phone)],
        )
        .await;
    assert_eq!(ok.status, 303);
    let r = agent
        .post(
            "/v1/auth/phone",
            &[("csrf", &page.csrf()), ("country", "IN"), ("phone", &phone)],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.body.contains("Too many codes were asked for"),
        "{}",
        r.body
    );
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&secs), "{secs}");
}
