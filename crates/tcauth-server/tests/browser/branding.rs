//! Per-client branding of the consent page: set and cleared through the admin API, validated,
//! kept by the store, and shown on the page (in the browser too, with screenshots).

use super::support::{Agent, Callback, Setup};
use super::webdriver::{enabled, Browser, PHONE};
use crate::common::{self, json_of};
use serde_json::{json, Value};

const BRANDING: &str = r##"{
    "heading": "sign_up_with",
    "button_text": "continue",
    "button_color": "#0B6E4F",
    "button_shape": "rectangle",
    "privacy_url": "https://shop.example/privacy",
    "terms_url": "https://shop.example/terms"
}"##;

async fn put_branding(s: &Setup, id: &str, body: Value) -> (u16, Value) {
    let r = s
        .server
        .admin(
            "PUT",
            &format!("/admin/v1/clients/{id}/branding"),
            Some(body),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    (st, v)
}

#[tokio::test]
async fn the_admin_api_sets_validates_and_clears_branding() {
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    let want: Value = serde_json::from_str(BRANDING).unwrap();
    let (st, v) = put_branding(&s, &s.client_id, want.clone()).await;
    assert_eq!(st, 200, "{v}");
    let mut stored = want.clone();
    stored["button_color"] = json!("#0b6e4f");
    assert_eq!(v["branding"], stored);
    assert_eq!(v["client_id"], s.client_id);
    // Kept by the store.
    let (_, _, shown) = json_of(
        s.server
            .admin("GET", &format!("/admin/v1/clients/{}", s.client_id), None)
            .await,
    )
    .await;
    assert_eq!(shown["branding"], stored);
    // Absent fields take their defaults.
    let (st, v) = put_branding(&s, &s.client_id, json!({"button_color": "#123456"})).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["branding"],
        json!({"heading": "login_to", "button_text": "allow", "button_shape": "rounded", "button_color": "#123456"})
    );
    for (body, field) in [
        (json!({"heading": "Welcome to"}), "heading"),
        (json!({"button_text": "OK"}), "button_text"),
        (json!({"button_color": "green"}), "button_color"),
        (json!({"button_color": "#12345"}), "button_color"),
        (json!({"button_shape": "circle"}), "button_shape"),
        (
            json!({"privacy_url": "http://shop.example/p"}),
            "privacy_url",
        ),
        (json!({"terms_url": "javascript:alert(1)"}), "terms_url"),
        (
            json!({"terms_url": "https://shop.example/\"><b>"}),
            "terms_url",
        ),
        (json!({"logo": "x"}), "logo"),
    ] {
        let (st, v) = put_branding(&s, &s.client_id, body.clone()).await;
        assert_eq!((st, v["field"].as_str()), (400, Some(field)), "{body}: {v}");
    }
    let (st, _) = put_branding(&s, "nosuchclient", json!({})).await;
    assert_eq!(st, 404);
    let r = s
        .server
        .admin(
            "DELETE",
            &format!("/admin/v1/clients/{}/branding", s.client_id),
            None,
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 200);
    assert!(v.get("branding").is_none(), "{v}");
    // A client may be created with its branding.
    let v = s
        .server
        .create_client_json(json!({
            "name": "Branded", "redirect_uris": [common::REDIRECT_URI], "scopes": ["openid"],
            "grant_types": ["authorization_code"], "branding": {"heading": "proceed_with"},
        }))
        .await;
    assert_eq!(v["branding"]["heading"], "proceed_with");
    let r = s
        .server
        .admin(
            "POST",
            "/admin/v1/clients",
            Some(json!({
                "name": "Bad", "redirect_uris": [common::REDIRECT_URI], "scopes": ["openid"],
                "grant_types": ["authorization_code"], "branding": {"button_shape": "blob"},
            })),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(
        (st, v["field"].as_str()),
        (400, Some("branding.button_shape")),
        "{v}"
    );
}

/// Walks a new number to the consent page over HTTP.
async fn consent_page(s: &Setup, agent: &mut Agent) -> super::support::Page {
    let (path, _) = s.auth_path("openid phone", "b", None);
    let page = agent.begin(&path).await;
    let code_page = agent.enter_phone(&page, &common::unique_phone()).await;
    let sms = s.gateway.next().await;
    let r = agent.enter_code(&code_page, &sms.code).await;
    assert_eq!(r.location(), "/v1/auth/name");
    let name = agent.get("/v1/auth/name").await;
    agent
        .post(
            "/v1/auth/name",
            &[
                ("csrf", &name.csrf()),
                ("given_name", "Ravi"),
                ("family_name", "K"),
            ],
        )
        .await;
    agent.get("/v1/auth/consent").await
}

#[tokio::test]
async fn the_consent_page_follows_the_branding() {
    let s = Setup::start(common::REDIRECT_URI, |_| {}).await;
    let (st, _) = put_branding(&s, &s.client_id, serde_json::from_str(BRANDING).unwrap()).await;
    assert_eq!(st, 200);
    let mut agent = Agent::new(&s.server);
    let page = consent_page(&s, &mut agent).await;
    assert_eq!(page.status, 200);
    for want in [
        "<h1>Sign up with Acme Shop</h1>",
        ">Continue</button>",
        ">Deny</button>",
        "background:#0b6e4f;color:#ffffff",
        r#"class="shape-rectangle""#,
        r#"href="https://shop.example/privacy""#,
        r#"href="https://shop.example/terms""#,
        r#"rel="noopener noreferrer""#,
    ] {
        assert!(page.body.contains(want), "consent lacks {want:?}");
    }
    super::pages::assert_page_headers(&page, false);
    // Continue is still `decision=allow`.
    let r = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &page.csrf()), ("decision", "allow")],
        )
        .await;
    assert!(r.location_query().contains_key("code"));
}

#[tokio::test]
async fn branded_consent_in_the_browser() {
    if !enabled("branded_consent_in_the_browser") {
        return;
    }
    let cb = Callback::start().await;
    let s = Setup::start(&cb.uri, |_| {}).await;
    put_branding(&s, &s.client_id, serde_json::from_str(BRANDING).unwrap()).await;
    let b = Browser::start(PHONE).await;
    let (path, _) = s.auth_path("openid phone profile", "st-b", None);
    b.goto(&s.server.url(&path)).await;
    b.wait_path("/v1/auth/phone").await;
    b.type_into("input[name=phone]", &common::unique_phone())
        .await;
    b.click("form button[type=submit]").await;
    b.wait_path("/v1/auth/code").await;
    let sms = s.gateway.next().await;
    b.type_into("input[name=code]", &sms.code).await;
    b.click("form[action='/v1/auth/code'] button[type=submit]")
        .await;
    b.wait_path("/v1/auth/name").await;
    b.type_into("input[name=given_name]", "Ravi").await;
    b.type_into("input[name=family_name]", "Kumar").await;
    b.click("form button[type=submit]").await;
    b.wait_path("/v1/auth/consent").await;
    assert!(b.text().await.contains("Sign up with Acme Shop"));
    b.screenshots("4b-consent-branded", PHONE).await;
    b.click("button[value=allow]").await;
    let q = cb.next().await;
    assert!(q.contains_key("code"));
    b.close().await;
}
