//! `GET /v1/web/verify`, the Mobile Websites dialog (CONTRACT.md §9), over plain HTTP: every
//! request rule, the sign-in it goes through, each option rendered, `ttl`, single use of
//! `requestNonce`, and the one callback each answer queues (read back from the store's outbox
//! and opened with the server secret). The real browser and a real receiver: `journeys.rs`
//! and `tests/callbacks/`.

use super::pages::assert_page_headers;
use super::support::{encode, Agent, Page, Setup};
use crate::common::{self, secret, StartOpts};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tcauth_core::model::CallbackDelivery;
use tcauth_core::ScopeSet;
use tcauth_server::callbacks;
use tcauth_store::{PgOptions, PgStore, Store};
use tcauth_testkit::gate;

/// Where a test's server keeps its records.
#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test's server and client, and the PostgreSQL schema it runs in (dropped last).
pub struct WebEnv {
    pub s: Setup,
    pub key: String,
    _schema: Option<tcauth_testkit::psql::Schema>,
}

impl WebEnv {
    /// Every row of the store as text: the SQLite tables, or `pg_dump` of the schema.
    pub fn dump(&self) -> String {
        match &self._schema {
            None => format!("{:?}", self.s.server.dump_tables()),
            Some(schema) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--data-only", "--schema", &schema.name, schema.base_url()])
                    .output()
                    .expect("pg_dump is installed (postgresql-client)");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        }
    }
}

/// [`web_setup`] on `backend`; `None` (after a loud SKIPPED line) for PostgreSQL when
/// `TCAUTH_TEST_DATABASE_URL` is unset.
pub async fn web_env(backend: Backend, test: &str) -> Option<WebEnv> {
    let (store, schema): (Option<Arc<dyn Store>>, _) = match backend {
        Backend::Sqlite => (None, None),
        Backend::Postgres => {
            let url = gate::env_or_skip(
                &gate::TEST_DATABASE_URL,
                &format!("the PostgreSQL web dialog test {test}"),
            )?;
            let schema = tcauth_testkit::psql::Schema::create(&url, "tcauth_web");
            let store = PgStore::connect(&schema.url(), PgOptions::default())
                .await
                .expect("connect to the test database");
            (Some(Arc::new(store)), Some(schema))
        }
    };
    let (s, key) = web_setup_on(store).await;
    Some(WebEnv {
        s,
        key,
        _schema: schema,
    })
}

/// A server (on its own SQLite file) with an SMS gateway and a Mobile Websites client;
/// (setup, app key).
pub async fn web_setup() -> (Setup, String) {
    web_setup_on(None).await
}

async fn web_setup_on(store: Option<Arc<dyn Store>>) -> (Setup, String) {
    let s =
        Setup::start_with_store(common::REDIRECT_URI, store, StartOpts::default(), |_| {}).await;
    let r = s
        .server
        .admin(
            "POST",
            "/admin/v1/clients",
            Some(json!({
                "name": "Acme Web",
                "redirect_uris": [common::REDIRECT_URI],
                "scopes": ["openid", "profile", "phone"],
                "grant_types": ["authorization_code"],
                "callback_url": "http://127.0.0.1:9/truecaller/callback",
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["client_id"].as_str().unwrap().to_string();
    // The harness's own client (no callback URL) stays as `s.client_id`; this one is used.
    let client = s.server.store.get_client(&id).await.unwrap().unwrap();
    let s = Setup { client_id: id, ..s };
    (s, client.app_key)
}

pub fn verify_path(app_key: &str, nonce: &str, extra: &[(&str, &str)]) -> String {
    let mut q = vec![
        ("type", "btmsheet".to_string()),
        ("requestNonce", nonce.to_string()),
        ("partnerKey", app_key.to_string()),
        ("partnerName", "Acme Checkout".to_string()),
    ];
    q.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    format!("/v1/web/verify?{}", encode(&q))
}

pub fn nonce() -> String {
    format!("nonce-{}", tcauth_core::secret::new_id())
}

/// From the deep link to the dialog, as a new number; (agent, dialog page, phone).
pub async fn to_dialog(s: &Setup, path: &str) -> (Agent, Page, String) {
    let mut agent = Agent::new(&s.server);
    let r = agent.get(path).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/v1/auth/phone");
    let phone_page = agent.get("/v1/auth/phone").await;
    assert_eq!(phone_page.status, 200);
    let phone = common::unique_phone();
    let code_page = agent.enter_phone(&phone_page, &phone).await;
    let sms = s.gateway.next().await;
    assert_eq!(sms.phone, phone);
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
    let dialog = agent.get("/v1/auth/consent").await;
    (agent, dialog, phone)
}

async fn deliveries(s: &Setup) -> Vec<CallbackDelivery> {
    s.server
        .store
        .list_deliveries(&s.client_id, 100)
        .await
        .unwrap()
}

/// The JSON a delivery will POST, opened as the worker opens it.
fn body_of(d: &CallbackDelivery) -> Value {
    let plain = callbacks::open_body(&secret(), &d.id, &d.body_sealed).expect("body opens");
    serde_json::from_slice(&plain).unwrap()
}

fn assert_error_page(p: &Page, status: u16, says: &str) {
    assert_eq!(p.status, status, "{}", p.body);
    assert!(p.body.contains(says), "{says:?} not in {}", p.body);
    assert!(
        p.header("set-cookie").is_none(),
        "an error page starts nothing"
    );
    assert_page_headers(p, false);
}

async fn continue_signs_in_and_queues_one_callback_with_a_ten_minute_token(backend: Backend) {
    let Some(env) = web_env(
        backend,
        "continue_signs_in_and_queues_one_callback_with_a_ten_minute_token",
    )
    .await
    else {
        return;
    };
    let (s, key) = (&env.s, env.key.clone());
    let n = nonce();
    let (mut agent, dialog, phone) = to_dialog(s, &verify_path(&key, &n, &[])).await;
    assert_eq!(dialog.status, 200, "{}", dialog.body);
    assert_page_headers(&dialog, false);
    let number = tcauth_core::phone::display(&phone);
    // The defaults: English, "Get started to log in", "Use <number>", round buttons.
    assert!(dialog.body.contains(r#"<html lang="en">"#));
    assert!(dialog.body.contains("<h1>Get started to log in</h1>"));
    assert!(dialog.body.contains("Acme Checkout will receive:"));
    assert!(dialog.body.contains(&format!(">Use {number}</button>")));
    assert!(dialog.body.contains(r#"class="shape-rounded""#));
    assert!(dialog.body.contains(">Use another mobile number</button>"));
    assert!(dialog
        .body
        .contains("<strong>Name</strong><small>Asha Rao</small>"));
    assert!(dialog.body.contains(&format!(
        "<strong>Phone number</strong><small>{number}</small>"
    )));
    assert!(dialog.body.contains(r#"<p class="app">Acme Checkout</p>"#));
    assert!(deliveries(s).await.is_empty(), "nothing before the answer");

    let before = tcauth_server::now();
    let done = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "continue")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("<h1>Done</h1>"));
    assert!(done
        .body
        .contains("Your profile was shared with Acme Checkout."));
    assert!(done.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_page_headers(&done, false);

    let ds = deliveries(s).await;
    assert_eq!(ds.len(), 1);
    let d = &ds[0];
    assert_eq!(
        (d.request_id.as_str(), d.url.as_str()),
        (n.as_str(), "http://127.0.0.1:9/truecaller/callback")
    );
    let body = body_of(d);
    let token = body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        json!({
            "requestId": n,
            "accessToken": token,
            "endpoint": format!("{}/v1/default", s.server.base),
        })
    );
    // The token: this client, Truecaller's profile share, 10 minutes; the delivery is given
    // up when it expires.
    let t = s
        .server
        .store
        .get_access_token(&tcauth_core::secret::TokenHash::of(&token))
        .await
        .unwrap()
        .expect("token stored, hashed");
    assert_eq!(t.client_id, s.client_id);
    assert_eq!(
        t.scopes,
        ScopeSet::parse("profile phone email address").unwrap()
    );
    assert_eq!(t.expires_at - t.issued_at, 600);
    assert!(t.issued_at >= before);
    assert_eq!(d.expires_at, t.expires_at);
    // The callback's endpoint answers the token with the user's web profile (§9).
    let r = s
        .server
        .http
        .get(s.server.url("/v1/default"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let profile: Value = r.json().await.unwrap();
    assert_eq!(
        profile["phoneNumbers"],
        json!([phone[1..].parse::<u64>().unwrap()])
    );
    assert_eq!(
        (&profile["type"], &profile["isActive"]),
        (&json!("Personal"), &json!(true))
    );
    // Never in clear in the store (checklist S1): not in the outbox, not in any row.
    assert!(!d
        .body_sealed
        .windows(token.len())
        .any(|w| w == token.as_bytes()));
    let dump = env.dump();
    assert!(dump.len() > 1000, "the dump holds the rows: {dump}");
    assert!(
        !dump.contains(&token),
        "the access token is in clear in the store"
    );

    // The answer is final: the same form again changes nothing.
    let again = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "continue")],
        )
        .await;
    assert_eq!(again.status, 403, "the cookie is gone: {}", again.body);
    assert_eq!(deliveries(s).await.len(), 1);
}

async fn a_replayed_answer_posts_nothing_more(backend: Backend) {
    let Some(env) = web_env(backend, "a_replayed_answer_posts_nothing_more").await else {
        return;
    };
    let (s, key) = (&env.s, env.key.clone());
    let (mut agent, dialog, _) = to_dialog(s, &verify_path(&key, &nonce(), &[])).await;
    let cookie = agent.cookie.clone();
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "reject")],
        )
        .await;
    assert_eq!(r.status, 200);
    // The same cookie and form, replayed: the "expired" page, no second callback.
    agent.cookie = cookie;
    for decision in ["continue", "reject"] {
        let r = agent
            .post(
                "/v1/auth/consent",
                &[("csrf", &dialog.csrf()), ("decision", decision)],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("This sign-in has expired"), "{}", r.body);
    }
    assert_eq!(deliveries(s).await.len(), 1);
}

async fn reject_and_the_skip_footer_queue_user_rejected(backend: Backend) {
    let Some(env) = web_env(backend, "reject_and_the_skip_footer_queue_user_rejected").await else {
        return;
    };
    let (s, key) = (&env.s, env.key.clone());
    for decision in ["reject", "skip"] {
        let n = nonce();
        let (mut agent, dialog, _) = to_dialog(s, &verify_path(&key, &n, &[])).await;
        let done = agent
            .post(
                "/v1/auth/consent",
                &[("csrf", &dialog.csrf()), ("decision", decision)],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("<h1>Nothing was shared</h1>"));
        let ds = deliveries(s).await;
        let d = ds.iter().find(|d| d.request_id == n).expect("queued");
        assert_eq!(
            body_of(d),
            json!({"requestId": n, "status": "user_rejected"})
        );
    }
    assert_eq!(deliveries(s).await.len(), 2);
    // A decision the dialog does not offer is a bad form; nothing is posted.
    let (mut agent, dialog, _) = to_dialog(s, &verify_path(&key, &nonce(), &[])).await;
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 400);
    // Without the CSRF token: 403, nothing posted.
    let r = agent
        .post("/v1/auth/consent", &[("decision", "continue")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(deliveries(s).await.len(), 2);
}

async fn every_bad_request_is_an_error_page_that_spends_nothing(backend: Backend) {
    let Some(env) = web_env(
        backend,
        "every_bad_request_is_an_error_page_that_spends_nothing",
    )
    .await
    else {
        return;
    };
    let (s, key) = (&env.s, env.key.clone());
    // A client without a callback URL: the harness's own.
    let plain_key = s
        .server
        .store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.callback_url.is_none())
        .unwrap()
        .app_key;
    let n = nonce();
    let long = "n".repeat(65);
    let cases: Vec<(String, &str)> = vec![
        ("/v1/web/verify".into(), "does not name an app"),
        (verify_path("no-such-key", &n, &[]), "not registered"),
        (
            verify_path(&plain_key, &n, &[]),
            "has not registered a callback URL",
        ),
        (verify_path(&key, "short7x", &[]), "8 to 64 visible ASCII"),
        (verify_path(&key, &long, &[]), "8 to 64 visible ASCII"),
        (
            verify_path(&key, "has space 123", &[]),
            "8 to 64 visible ASCII",
        ),
        (
            format!("/v1/web/verify?partnerKey={key}"),
            "8 to 64 visible ASCII",
        ),
        (verify_path(&key, &n, &[("ttl", "0")]), "ttl must be"),
        (verify_path(&key, &n, &[("ttl", "-5")]), "ttl must be"),
        (verify_path(&key, &n, &[("ttl", "10s")]), "ttl must be"),
        (verify_path(&key, &n, &[("ttl", "")]), "ttl must be"),
        (
            format!("{}&requestNonce=other-nonce-1", verify_path(&key, &n, &[])),
            "requestNonce is repeated",
        ),
        ("/v1/web/verify?partnerKey=%FF".into(), "not valid UTF-8"),
    ];
    let mut agent = Agent::new(&s.server);
    for (path, says) in &cases {
        let p = agent.get(path).await;
        assert_error_page(&p, 400, says);
    }
    // None of them spent the nonce: the good request with it goes through.
    let p = agent.get(&verify_path(&key, &n, &[])).await;
    assert_eq!((p.status, p.location()), (303, "/v1/auth/phone"));
    // Spent now: once per app key.
    let mut other = Agent::new(&s.server);
    let p = other.get(&verify_path(&key, &n, &[])).await;
    assert_error_page(&p, 400, "already used");
    // The same nonce with another app key is another request.
    let r = s
        .server
        .admin(
            "POST",
            "/admin/v1/clients",
            Some(json!({
                "name": "Other Web",
                "redirect_uris": [common::REDIRECT_URI],
                "scopes": ["openid"],
                "grant_types": ["authorization_code"],
                "callback_url": "https://other.example/cb",
            })),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_key = s
        .server
        .store
        .get_client(&id)
        .await
        .unwrap()
        .unwrap()
        .app_key;
    let p = other.get(&verify_path(&other_key, &n, &[])).await;
    assert_eq!((p.status, p.location()), (303, "/v1/auth/phone"));
    assert!(deliveries(s).await.is_empty());
}

#[tokio::test]
async fn after_ttl_the_dialog_answers_expired_and_posts_nothing() {
    let (s, key) = web_setup().await;
    let path = verify_path(&key, &nonce(), &[("ttl", "4000")]);
    let (mut agent, dialog, _) = to_dialog(&s, &path).await;
    assert_eq!(dialog.status, 200, "{}", dialog.body);
    let csrf = dialog.csrf();
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let p = agent.get("/v1/auth/consent").await;
    assert_error_page(&p, 400, "This request has expired");
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &csrf), ("decision", "continue")],
        )
        .await;
    assert_error_page(&r, 400, "This request has expired");
    assert!(deliveries(&s).await.is_empty());
}

#[tokio::test]
async fn every_option_is_rendered_and_unknown_values_fall_back() {
    let (s, key) = web_setup().await;
    let opts = [
        ("lang", "en"),
        ("loginPrefix", "checkout"),
        ("loginSuffix", "verifymobile"),
        ("ctaPrefix", "continuewith"),
        ("ctaColor", "#F75D34"),
        ("ctaTextColor", "#ffffff"),
        ("btnShape", "rect"),
        ("skipOption", "later"),
        ("privacyUrl", "https://acme.example/privacy"),
        ("termsUrl", "http://acme.example/terms"),
    ];
    let (_, dialog, phone) = to_dialog(&s, &verify_path(&key, &nonce(), &opts)).await;
    let number = tcauth_core::phone::display(&phone);
    let b = &dialog.body;
    assert!(
        b.contains("<h1>Check out to verify your mobile number</h1>"),
        "{b}"
    );
    assert!(b.contains(&format!(
        r#"id="cta" style="background:#f75d34;border-color:#f75d34;color:#ffffff">Continue with {number}</button>"#
    )), "{b}");
    assert!(b.contains(r#"class="shape-rectangle""#));
    assert!(b.contains(r#"id="skip">Later</button>"#));
    assert!(b.contains(r#"<a href="https://acme.example/privacy" rel="noopener noreferrer" target="_blank">privacy policy</a> and <a href="http://acme.example/terms" rel="noopener noreferrer" target="_blank">terms of service</a>."#), "{b}");

    // Hindi.
    let (_, dialog, phone) = to_dialog(
        &s,
        &verify_path(
            &key,
            &nonce(),
            &[("lang", "hi"), ("ctaPrefix", "proceedwith")],
        ),
    )
    .await;
    let number = tcauth_core::phone::display(&phone);
    assert!(dialog.body.contains(r#"<html lang="hi">"#));
    assert!(dialog.body.contains("<h1>लॉग इन के लिए शुरू करें</h1>"));
    assert!(dialog
        .body
        .contains(&format!("{number} के साथ आगे बढ़ें</button>")));
    assert!(dialog.body.contains("Acme Checkout को यह जानकारी मिलेगी:"));

    // Unknown values: the defaults; a language tcauth does not speak: English; links that
    // are not http(s) and colours that are not hex: left out; no partnerName: the client's.
    let bad = [
        ("lang", "sw"),
        ("loginPrefix", "buy"),
        ("loginSuffix", "LOGIN"),
        ("ctaPrefix", "tap"),
        ("ctaColor", "red;background:url(x)"),
        ("ctaTextColor", "#12345"),
        ("btnShape", "oval"),
        ("skipOption", "never"),
        ("privacyUrl", "javascript:alert(1)"),
        ("termsUrl", "data:text/html,x"),
    ];
    let path = verify_path(&key, &nonce(), &bad)
        .replace("&partnerName=Acme%20Checkout", "")
        .replace("type=btmsheet", "type=fullscreen");
    let (_, dialog, phone) = to_dialog(&s, &path).await;
    let number = tcauth_core::phone::display(&phone);
    let b = &dialog.body;
    assert!(b.contains(r#"<html lang="en">"#));
    assert!(b.contains("<h1>Get started to log in</h1>"));
    assert!(
        b.contains(&format!(r#"id="cta">Use {number}</button>"#)),
        "{b}"
    );
    assert!(b.contains(r#"class="shape-rounded""#));
    assert!(b.contains(r#"id="skip">Use another mobile number</button>"#));
    assert!(b.contains("Acme Web will receive:"));
    assert!(!b.contains("javascript:") && !b.contains("data:text") && !b.contains("<a href"));
}

async fn a_blocked_user_cannot_share(backend: Backend) {
    let Some(env) = web_env(backend, "a_blocked_user_cannot_share").await else {
        return;
    };
    let (s, key) = (&env.s, env.key.clone());
    let (mut agent, dialog, phone) = to_dialog(s, &verify_path(&key, &nonce(), &[])).await;
    let user = s
        .server
        .store
        .get_user_by_phone(&phone)
        .await
        .unwrap()
        .unwrap();
    s.server
        .store
        .set_user_status(user.sub, tcauth_core::model::UserStatus::Blocked)
        .await
        .unwrap();
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "continue")],
        )
        .await;
    assert_error_page(&r, 403, "blocked or was deleted");
    assert!(deliveries(s).await.is_empty());
}

/// Each of these runs on SQLite and on PostgreSQL (`<name>_on_sqlite`, `<name>_on_postgres`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    continue_signs_in_and_queues_one_callback_with_a_ten_minute_token,
    a_replayed_answer_posts_nothing_more,
    reject_and_the_skip_footer_queue_user_rejected,
    every_bad_request_is_an_error_page_that_spends_nothing,
    a_blocked_user_cannot_share,
);
