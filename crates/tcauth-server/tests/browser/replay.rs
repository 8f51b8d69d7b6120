//! A finished sign-in is spent on the server: its cookie, replayed after Allow or Deny (by a
//! browser that ignored `Max-Age=0`, or by whoever copied it), gets the "sign-in expired" page
//! and never another code; of concurrent submissions of one cookie exactly one gets a code.

use super::support::{Agent, Page, Setup};
use crate::common::{self, Code, StartOpts};
use std::sync::atomic::Ordering;

/// Signs the known number (`common::PHONE`) in up to the consent page; (agent, consent page,
/// the PKCE verifier).
async fn to_consent(s: &Setup) -> (Agent, Page, String) {
    let mut agent = Agent::new(&s.server);
    let (path, verifier) = s.auth_path("openid phone", "st", None);
    let page = agent.begin(&path).await;
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
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!((r.status, r.location()), (303, "/v1/auth/consent"));
    let consent = agent.get("/v1/auth/consent").await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    (agent, consent, verifier)
}

fn codes_in_store(s: &Setup) -> usize {
    s.server
        .dump_tables()
        .into_iter()
        .find(|(t, _)| t == "auth_codes")
        .map_or(0, |(_, rows)| rows.len())
}

/// The page a sign-in past its life gets: 400, "This sign-in has expired", no redirect and no
/// cookie.
fn assert_expired(p: &Page, what: &str) {
    assert_eq!(p.status, 400, "{what}: {}", p.body);
    assert!(
        p.body.contains("This sign-in has expired"),
        "{what}: {}",
        p.body
    );
    assert!(p.header("location").is_none(), "{what}: no redirect");
    assert!(p.header("set-cookie").is_none(), "{what}: no cookie");
}

/// Replays `cookie` with the consent form (both decisions) and the consent page, `times`
/// times each: every answer is the expired page.
async fn replay(agent: &mut Agent, cookie: &Option<String>, csrf: &str, times: usize) {
    for i in 0..times {
        for decision in ["allow", "deny"] {
            agent.cookie = cookie.clone();
            let r = agent
                .post(
                    "/v1/auth/consent",
                    &[("csrf", csrf), ("decision", decision)],
                )
                .await;
            assert_expired(&r, &format!("replay {i}: POST {decision}"));
        }
        agent.cookie = cookie.clone();
        let r = agent.get("/v1/auth/consent").await;
        assert_expired(&r, &format!("replay {i}: GET"));
    }
}

#[tokio::test]
async fn a_cookie_replayed_after_allow_gets_the_expired_page_and_no_code() {
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    s.server.create_user().await;
    let (mut agent, consent, verifier) = to_consent(&s).await;
    let cookie = agent.cookie.clone();
    let csrf = consent.csrf();
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &csrf), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let code = r.location_query()["code"].clone();
    assert_eq!(codes_in_store(&s), 1);

    replay(&mut agent, &cookie, &csrf, 5).await;
    assert_eq!(codes_in_store(&s), 1, "the replays minted no code");

    // The one code still works, once.
    let code = Code {
        code,
        verifier,
        challenge: String::new(),
    };
    s.server.exchange_ok(&s.client_id, &code).await;
    assert_eq!(s.server.exchange(&s.client_id, &code).await.status(), 403);
}

#[tokio::test]
async fn a_cookie_replayed_after_deny_gets_the_expired_page_and_no_code() {
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    s.server.create_user().await;
    let (mut agent, consent, _) = to_consent(&s).await;
    let cookie = agent.cookie.clone();
    let csrf = consent.csrf();
    let r = agent
        .post("/v1/auth/consent", &[("csrf", &csrf), ("decision", "deny")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location_query()["error"], "access_denied");

    // Not even an Allow after the Deny.
    replay(&mut agent, &cookie, &csrf, 3).await;
    assert_eq!(codes_in_store(&s), 0);
}

#[tokio::test]
async fn of_concurrent_submissions_of_one_cookie_exactly_one_gets_a_code() {
    const N: usize = 12;
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    s.server.create_user().await;
    let (agent, consent, _) = to_consent(&s).await;
    let cookie = agent.cookie.clone().unwrap();
    let csrf = consent.csrf();
    let url = s.server.url("/v1/auth/consent");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (url, cookie, csrf) = (url.clone(), cookie.clone(), csrf.clone());
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let http = common::http_client_no_pool();
                let rb = http
                    .post(url)
                    .header("cookie", cookie)
                    .form(&[("csrf", csrf.as_str()), ("decision", "allow")]);
                barrier.wait().await;
                let r = rb.send().await.unwrap();
                let status = r.status().as_u16();
                let location = r
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_string());
                (status, location, r.text().await.unwrap())
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        let (status, location, body) = t.await.unwrap();
        match status {
            303 => {
                let location = location.unwrap();
                assert!(location.contains("code="), "{location}");
                winners += 1;
            }
            400 => assert!(body.contains("This sign-in has expired"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners, 1, "exactly one submission gets a code");
    assert_eq!(codes_in_store(&s), 1);
}

#[tokio::test]
async fn a_store_failure_while_finishing_is_a_503_and_finishes_nothing() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = Setup::start_opts(common::REDIRECT_URI, opts, |_| {}).await;
    s.server.create_user().await;
    let (mut agent, consent, verifier) = to_consent(&s).await;
    let csrf = consent.csrf();
    let fault = s.server.fault.clone().unwrap();
    fault.finishing_fails.store(true, Ordering::SeqCst);
    for decision in ["allow", "deny"] {
        let r = agent
            .post(
                "/v1/auth/consent",
                &[("csrf", &csrf), ("decision", decision)],
            )
            .await;
        assert_eq!(r.status, 503, "{decision}: {}", r.body);
        assert!(r.body.contains("Please try again"), "{}", r.body);
        assert_eq!(r.header("retry-after"), Some("60"));
        assert!(r.header("location").is_none(), "{decision}: no redirect");
        assert!(
            r.header("set-cookie").is_none(),
            "{decision}: the cookie stays"
        );
    }
    assert!(fault.faulted_calls.load(Ordering::SeqCst) >= 2);
    assert_eq!(
        codes_in_store(&s),
        0,
        "no code without a finished interaction"
    );

    // Nothing was finished: the same sign-in, tried again, goes through (once).
    fault.finishing_fails.store(false, Ordering::SeqCst);
    let cookie = agent.cookie.clone();
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &csrf), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let code = Code {
        code: r.location_query()["code"].clone(),
        verifier,
        challenge: String::new(),
    };
    assert_eq!(codes_in_store(&s), 1);
    replay(&mut agent, &cookie, &csrf, 1).await;
    s.server.exchange_ok(&s.client_id, &code).await;
}
