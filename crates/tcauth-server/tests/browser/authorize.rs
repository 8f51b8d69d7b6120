//! `GET|POST /v1/auth` over plain HTTP: every validation branch (CONTRACT.md §5, checklist
//! A1–A7), the error page, and the start of an interaction.

use super::support::{encode, query_of, Agent, Page};
use crate::common::{self, TestServer};
use serde_json::json;

const APP_CB: &str = "https://shop.example/cb";
const APP_CB_Q: &str = "https://shop.example/cb?tenant=7";

struct Auth {
    server: TestServer,
    client_id: String,
}

async fn setup() -> Auth {
    let server = TestServer::start().await;
    let v = server
        .create_client_json(json!({
            "name": "Acme <Shop> & \"Co\"",
            "redirect_uris": [APP_CB, APP_CB_Q, "http://127.0.0.1:9/cb", "com.acme.app:/oauth"],
            "scopes": ["openid", "phone", "profile"],
            "grant_types": ["authorization_code"],
        }))
        .await;
    Auth {
        client_id: v["client_id"].as_str().unwrap().to_string(),
        server,
    }
}

/// A valid request's parameters, as (name, value) pairs to edit.
fn valid(a: &Auth) -> Params {
    vec![
        ("response_type", "code".into()),
        ("client_id", a.client_id.clone()),
        ("redirect_uri", APP_CB.into()),
        ("scope", "openid phone".into()),
        ("state", "st-42 &=?".into()),
        (
            "code_challenge",
            common::challenge_of(&common::random_verifier()),
        ),
        ("code_challenge_method", "S256".into()),
    ]
}

type Params = Vec<(&'static str, String)>;

fn without(mut p: Params, name: &str) -> Params {
    p.retain(|(k, _)| *k != name);
    p
}

fn with(mut p: Params, name: &'static str, v: &str) -> Params {
    p.retain(|(k, _)| *k != name);
    p.push((name, v.into()));
    p
}

async fn get(a: &Auth, p: &[(&str, String)]) -> Page {
    Agent::new(&a.server)
        .get(&format!("/v1/auth?{}", encode(p)))
        .await
}

async fn post(a: &Auth, p: &[(&str, String)]) -> Page {
    let form: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Agent::new(&a.server).post("/v1/auth", &form).await
}

/// An HTML error page: 400, no redirect, no cookie, the pages' headers.
fn assert_error_page(p: &Page, what: &str) {
    assert_eq!(p.status, 400, "{what}: {}", p.body);
    assert!(p.header("location").is_none(), "{what}: must not redirect");
    assert!(
        p.header("set-cookie").is_none(),
        "{what}: must not start an interaction"
    );
    assert!(
        p.header("content-type").unwrap().starts_with("text/html"),
        "{what}"
    );
    assert!(
        p.body.contains("This sign-in link is not valid"),
        "{what}: {}",
        p.body
    );
    super::pages::assert_page_headers(p, false);
}

/// A redirect to `base` carrying `error` (and `iss`; `state` when `state` is given).
fn assert_error_redirect(
    a: &Auth,
    p: &Page,
    status: u16,
    base: &str,
    error: &str,
    state: Option<&str>,
) {
    assert_eq!(p.status, status, "{error}: {}", p.body);
    let loc = p.location();
    assert!(loc.starts_with(base), "{loc} should start with {base}");
    let q = query_of(loc);
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{loc}");
    assert_eq!(q.get("iss"), Some(&a.server.base), "{loc}: iss");
    assert_eq!(q.get("state").map(String::as_str), state, "{loc}: state");
    assert!(!q.contains_key("code"), "{loc}");
    // RFC 6749 §4.1.2.1: printable ASCII without `"` and `\`.
    let d = q.get("error_description").map_or("", String::as_str);
    assert!(
        d.bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
        "{d:?}"
    );
    assert!(
        p.header("set-cookie").is_none(),
        "{error}: no interaction on error"
    );
    assert_eq!(p.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn unknown_or_missing_client_or_redirect_uri_shows_the_error_page() {
    let a = setup().await;
    let ok = valid(&a);
    let cases: Vec<(&str, Params)> = vec![
        (
            "unknown client",
            with(ok.clone(), "client_id", "nosuchclient0000000000000"),
        ),
        ("missing client", without(ok.clone(), "client_id")),
        ("empty client", with(ok.clone(), "client_id", "")),
        ("missing redirect_uri", without(ok.clone(), "redirect_uri")),
        (
            "unregistered",
            with(ok.clone(), "redirect_uri", "https://evil.example/cb"),
        ),
        (
            "trailing slash",
            with(ok.clone(), "redirect_uri", "https://shop.example/cb/"),
        ),
        (
            "port 443 added",
            with(ok.clone(), "redirect_uri", "https://shop.example:443/cb"),
        ),
        (
            "upper-case host",
            with(ok.clone(), "redirect_uri", "https://SHOP.example/cb"),
        ),
        (
            "query added",
            with(ok.clone(), "redirect_uri", "https://shop.example/cb?x=1"),
        ),
        (
            "query changed",
            with(
                ok.clone(),
                "redirect_uri",
                "https://shop.example/cb?tenant=8",
            ),
        ),
        (
            "fragment",
            with(ok.clone(), "redirect_uri", "https://shop.example/cb#f"),
        ),
        (
            "loopback port changed",
            with(ok.clone(), "redirect_uri", "http://127.0.0.1:10/cb"),
        ),
    ];
    for (what, p) in cases {
        assert_error_page(&get(&a, &p).await, what);
        assert_error_page(&post(&a, &p).await, what);
    }
    // Repeated client_id or redirect_uri: which one would we trust?
    let mut p = valid(&a);
    p.push(("redirect_uri", APP_CB.into()));
    assert_error_page(&get(&a, &p).await, "repeated redirect_uri");
    let mut p = valid(&a);
    p.push(("client_id", a.client_id.clone()));
    assert_error_page(&get(&a, &p).await, "repeated client_id");
    // Broken encoding.
    let r = Agent::new(&a.server).get("/v1/auth?client_id=%FF").await;
    assert_error_page(&r, "bad UTF-8");
}

#[tokio::test]
async fn other_faults_redirect_with_error_state_and_iss() {
    let a = setup().await;
    let ok = valid(&a);
    let st = Some("st-42 &=?");
    let cases: Vec<(&str, Params, Option<&str>)> = vec![
        ("invalid_request", without(ok.clone(), "response_type"), st),
        (
            "unsupported_response_type",
            with(ok.clone(), "response_type", "token"),
            st,
        ),
        (
            "unsupported_response_type",
            with(ok.clone(), "response_type", "code id_token"),
            st,
        ),
        (
            "invalid_scope",
            with(ok.clone(), "scope", "openid root"),
            st,
        ),
        (
            "invalid_scope",
            with(ok.clone(), "scope", "openid email"),
            st,
        ),
        ("invalid_scope", without(ok.clone(), "scope"), st),
        ("invalid_request", without(ok.clone(), "code_challenge"), st),
        (
            "invalid_request",
            without(ok.clone(), "code_challenge_method"),
            st,
        ),
        (
            "invalid_request",
            with(ok.clone(), "code_challenge_method", "plain"),
            st,
        ),
        (
            "invalid_request",
            with(ok.clone(), "code_challenge", "short"),
            st,
        ),
        (
            "invalid_request",
            with(ok.clone(), "code_challenge", &"a".repeat(129)),
            st,
        ),
        (
            "invalid_request",
            with(
                ok.clone(),
                "code_challenge",
                &format!("{}!", "a".repeat(43)),
            ),
            st,
        ),
        (
            "invalid_request",
            with(ok.clone(), "nonce", &"n".repeat(513)),
            st,
        ),
        (
            "invalid_request",
            with(ok.clone(), "response_mode", "fragment"),
            st,
        ),
        ("login_required", with(ok.clone(), "prompt", "none"), st),
        (
            "invalid_request",
            with(ok.clone(), "state", &"s".repeat(513)),
            None,
        ),
        (
            "invalid_request",
            without(ok.clone(), "state")
                .into_iter()
                .chain([("scope", "phone".into())])
                .collect(),
            None,
        ),
    ];
    for (error, p, state) in cases {
        let r = get(&a, &p).await;
        assert_error_redirect(&a, &r, 302, APP_CB, error, state);
        let r = post(&a, &p).await;
        assert_error_redirect(&a, &r, 303, APP_CB, error, state);
    }
    // A repeated state is not echoed.
    let mut p = valid(&a);
    p.push(("state", "other".into()));
    assert_error_redirect(&a, &get(&a, &p).await, 302, APP_CB, "invalid_request", None);
    // Faults go to the registered URI as registered: its query kept, ours appended.
    let p = with(
        with(valid(&a), "redirect_uri", APP_CB_Q),
        "response_type",
        "token",
    );
    let r = get(&a, &p).await;
    assert_error_redirect(
        &a,
        &r,
        302,
        &format!("{APP_CB_Q}&"),
        "unsupported_response_type",
        st,
    );
    assert_eq!(query_of(r.location())["tenant"], "7");
    // An app's private scheme works the same.
    let p = with(
        with(valid(&a), "redirect_uri", "com.acme.app:/oauth"),
        "scope",
        "email",
    );
    assert_error_redirect(
        &a,
        &get(&a, &p).await,
        302,
        "com.acme.app:/oauth?",
        "invalid_scope",
        st,
    );
}

#[tokio::test]
async fn a_valid_request_starts_an_interaction() {
    let a = setup().await;
    for (method, status) in [("GET", 302), ("POST", 303)] {
        let mut p = valid(&a);
        p.push(("unknown_parameter", "ignored".into()));
        p.push(("unknown_parameter", "twice".into()));
        p.push(("nonce", "n-1".into()));
        let r = if method == "GET" {
            get(&a, &p).await
        } else {
            post(&a, &p).await
        };
        assert_eq!(r.status, status, "{method}: {}", r.body);
        assert_eq!(r.location(), "/v1/auth/phone", "{method}");
        let c = r.header("set-cookie").expect("interaction cookie");
        assert!(c.starts_with("tcauth_interaction="), "{c}");
        super::pages::assert_cookie_attributes(c, false);
        super::pages::assert_page_headers(&r, false);
        // Nothing the app sent is in the clear in the cookie.
        for (_, v) in &p {
            if v.len() > 4 {
                assert!(!c.contains(v.as_str()), "{v} visible in the cookie");
            }
        }
    }
    // Without openid, without state, without nonce: fine too.
    let p = without(with(valid(&a), "scope", "phone"), "state");
    assert_eq!(get(&a, &p).await.status, 302);
}

#[tokio::test]
async fn an_https_issuer_gets_host_prefixed_secure_cookies_and_hsts() {
    let server = TestServer::start_with(|s| s.issuer = "https://login.example".into()).await;
    let v = server
        .create_client_json(json!({
            "name": "Acme", "redirect_uris": [APP_CB], "scopes": ["openid"],
            "grant_types": ["authorization_code"],
        }))
        .await;
    let a = Auth {
        client_id: v["client_id"].as_str().unwrap().to_string(),
        server,
    };
    let p = with(valid(&a), "scope", "openid");
    let r = get(&a, &p).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let c = r.header("set-cookie").unwrap();
    assert!(c.starts_with("__Host-tcauth_interaction="), "{c}");
    super::pages::assert_cookie_attributes(c, true);
    super::pages::assert_page_headers(&r, true);
    // The error redirect's iss is the configured issuer.
    let r = get(&a, &with(p, "response_type", "token")).await;
    assert_eq!(query_of(r.location())["iss"], "https://login.example");
    // The error page too has HSTS.
    let r = get(&a, &with(valid(&a), "client_id", "x")).await;
    assert_eq!(r.status, 400);
    super::pages::assert_page_headers(&r, true);
}

#[tokio::test]
async fn pages_escape_the_app_name_and_discovery_announces_iss() {
    let a = setup().await;
    // The client's name is shown on the pages, escaped (B7).
    let mut agent = Agent::new(&a.server);
    let page = agent
        .begin(&format!("/v1/auth?{}", encode(&valid(&a))))
        .await;
    let escaped = [
        "Acme &#60;Shop&#62; &#38; &#34;Co&#34;",
        "Acme &lt;Shop&gt; &amp; &quot;Co&quot;",
    ];
    assert!(
        escaped.iter().any(|e| page.body.contains(e)),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<Shop>") && !page.body.contains("\"Co\""));
    let d: serde_json::Value = a
        .server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/v1/auth", a.server.base)
    );
}
