//! The admin API: CONTRACT.md §7 and the decided details (auth, shapes, errors).

use crate::common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn unauthorized() -> Value {
    json!({"error":"unauthorized","error_description":"Admin token required"})
}

/// Asserts a 400 naming `field` (exactly) with a description `<field>: <message>`.
async fn assert_field_error(resp: reqwest::Response, field: &str) {
    let (st, h, v) = json_of(resp).await;
    assert_eq!(st, 400, "{v}");
    assert_json_content_type(&h);
    assert_eq!(v["error"], "invalid_request", "{v}");
    assert_eq!(v["field"], field, "{v}");
    let d = v["error_description"].as_str().unwrap();
    assert!(
        d.starts_with(&format!("{field}: ")) && d.len() > field.len() + 2,
        "{d:?}"
    );
    assert!(!d.contains(['\r', '\n', '\t']), "{d:?}");
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
}

async fn admin_with(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut rb = s.http.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        s.url(path),
    );
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send().await.unwrap()
}

const PATHS: &[(&str, &str)] = &[
    ("GET", "/admin/v1/clients"),
    ("POST", "/admin/v1/clients"),
    ("GET", "/admin/v1/clients/abc"),
    ("DELETE", "/admin/v1/clients/abc"),
    ("PATCH", "/admin/v1/clients/abc"),
    ("GET", "/admin/v1/clients/abc/deliveries"),
    ("POST", "/admin/v1/users"),
    ("GET", "/admin/v1/users/123"),
    ("DELETE", "/admin/v1/users/123"),
    ("POST", "/admin/v1/users/123/block"),
    ("POST", "/admin/v1/users/123/unblock"),
    ("POST", "/admin/v1/authorizations"),
    ("GET", "/admin/v1/nothing-here"),
    ("GET", "/admin"),
];

#[tokio::test]
async fn without_a_configured_token_admin_is_404() {
    let s = TestServer::start_opts(
        StartOpts {
            admin: false,
            ..StartOpts::default()
        },
        |_| {},
    )
    .await;
    for (m, p) in PATHS {
        for auth in [
            None,
            Some(format!("Bearer {ADMIN_TOKEN}")),
            Some("Bearer ".to_string()),
        ] {
            let r = admin_with(&s, m, p, auth.as_deref(), Some(json!({}))).await;
            assert_json_error(r, 404, json!({"error":"not_found"})).await;
        }
    }
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let s = TestServer::start().await;
    let prefix = &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1];
    let auths = [
        None,
        Some(String::new()),
        Some("Bearer".to_string()),
        Some("Bearer ".to_string()),
        Some(format!("Bearer {prefix}")),
        Some(format!("Bearer {ADMIN_TOKEN}x")),
        Some(format!("Bearer {}", ADMIN_TOKEN.to_uppercase())),
        Some(format!("Basic {ADMIN_TOKEN}")),
        Some(ADMIN_TOKEN.to_string()),
        Some("Bearer wrong-token-wrong-token-wrong".to_string()),
    ];
    // Ten failures per address is the most that answer 401 (then 429: admin_lockout.rs), so
    // each path's ten tries come from an address of their own.
    for (i, (m, p)) in PATHS.iter().take(10).enumerate() {
        let from =
            super::admin_lockout::client_from(std::net::Ipv4Addr::new(127, 0, 1, i as u8 + 1));
        for a in &auths {
            let mut rb = from.request(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), s.url(p));
            if let Some(a) = a {
                rb = rb.header("authorization", a);
            }
            let r = rb.json(&json!({})).send().await.unwrap();
            let h = assert_json_error(r, 401, unauthorized()).await;
            assert_eq!(
                header(&h, "www-authenticate"),
                Some("Bearer"),
                "{m} {p} {a:?}"
            );
        }
    }
    // The right token gets through.
    let r = admin_with(
        &s,
        "GET",
        "/admin/v1/clients",
        Some(&format!("Bearer {ADMIN_TOKEN}")),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn clients_crud() {
    let s = TestServer::start().await;
    let a = s
        .create_client_json(json!({
            "name": "Shop", "redirect_uris": [REDIRECT_URI, "com.shop.app:/oauth"],
            "scopes": ["offline_access", "phone", "openid"],
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .await;
    let id = a["client_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(a["name"], "Shop");
    assert_eq!(
        a["redirect_uris"],
        json!([REDIRECT_URI, "com.shop.app:/oauth"])
    );
    assert_eq!(a["scopes"], json!(["openid", "phone", "offline_access"]));
    assert_eq!(
        a["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(a["created_at"].is_i64());
    let members: BTreeSet<&str> = a.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        members,
        [
            "client_id",
            "app_key",
            "name",
            "redirect_uris",
            "scopes",
            "grant_types",
            "created_at",
            "mode"
        ]
        .into_iter()
        .collect(),
        "no rate_limit, callback_url, package_name member unless set: {a}"
    );
    let b = s
        .create_client_json(json!({
            "name": "Limited", "redirect_uris": [REDIRECT_URI], "scopes": ["phone"],
            "grant_types": ["authorization_code"], "rate_limit": {"per_second": 5, "burst": 10},
        }))
        .await;
    assert_eq!(b["rate_limit"], json!({"per_second": 5, "burst": 10}));
    let b_id = b["client_id"].as_str().unwrap().to_string();
    assert_ne!(id, b_id);

    let (st, h, v) = json_of(
        s.admin("GET", &format!("/admin/v1/clients/{id}"), None)
            .await,
    )
    .await;
    assert_eq!((st, &v), (200, &a));
    assert_json_content_type(&h);
    let (st, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert_eq!(st, 200);
    assert_eq!(list.as_object().unwrap().len(), 1, "{list}");
    let listed = list["clients"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a) && listed.contains(&b), "{list}");

    let r = s
        .admin("DELETE", &format!("/admin/v1/clients/{id}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let no_client = json!({"error":"not_found","error_description":"No such client"});
    for m in ["GET", "DELETE"] {
        let r = s.admin(m, &format!("/admin/v1/clients/{id}"), None).await;
        assert_json_error(r, 404, no_client.clone()).await;
    }
    let r = s.admin("GET", "/admin/v1/clients/unknown", None).await;
    assert_json_error(r, 404, no_client).await;
    let (_, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert_eq!(list["clients"], json!([b]));
}

#[tokio::test]
async fn client_validation_names_the_field() {
    let s = TestServer::start().await;
    let good = json!({"name": "Shop", "redirect_uris": [REDIRECT_URI], "scopes": ["openid"],
        "grant_types": ["authorization_code"]});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cut = "k".repeat(200);
    let cases: Vec<(Value, &str)> = vec![
        (with("name", json!("")), "name"),
        (with("name", json!("x".repeat(200))), "name"),
        (with("redirect_uris", json!([])), "redirect_uris"),
        (with("scopes", json!(["openid", "admin"])), "scopes"),
        (with("scopes", json!([])), "scopes"),
        (with("grant_types", json!(["password"])), "grant_types"),
        (with("grant_types", json!([])), "grant_types"),
        (
            with("rate_limit", json!({"per_second": 0, "burst": 1})),
            "rate_limit.per_second",
        ),
        (
            with("rate_limit", json!({"per_second": 1, "burst": 0})),
            "rate_limit.burst",
        ),
        // §7: a wrong member names itself, never `body`.
        (with("surprise", json!(1)), "surprise"),
        (with("scopes", json!("openid")), "scopes"),
        (with("scopes", json!(["openid", 7])), "scopes[1]"),
        (
            with("redirect_uris", json!([REDIRECT_URI, null])),
            "redirect_uris[1]",
        ),
        (with("name", json!(5)), "name"),
        (
            with("rate_limit", json!({"per_second": "1", "burst": 1})),
            "rate_limit.per_second",
        ),
        (json!({"name": "Shop"}), "redirect_uris"),
        // An unknown member under an object is named by its path, dots in its name and all
        // (found by the admin_json fuzz target).
        (
            with("branding", json!({"heading": "Hi", "grant_types.12": 1})),
            "branding.grant_types.12",
        ),
        // A member's name is echoed printable and cut at 200 characters.
        (with("a\u{7}b", json!(1)), "a?b"),
        (with(&"k".repeat(5000), json!(1)), &cut),
        // Not an object: there is no member to name.
        (json!([1, 2]), "body"),
        (json!("Shop"), "body"),
    ];
    for (body, field) in cases {
        let r = s
            .admin("POST", "/admin/v1/clients", Some(body.clone()))
            .await;
        assert_field_error(r, field).await;
    }
    // Each bad redirect URI names its position.
    for bad in [
        "http://evil.example/cb",
        "https://a.example/cb#frag",
        "javascript:alert(1)",
        "/relative",
        "",
    ] {
        let r = s
            .admin(
                "POST",
                "/admin/v1/clients",
                Some(with("redirect_uris", json!([REDIRECT_URI, bad]))),
            )
            .await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(
            v["field"].as_str().unwrap().starts_with("redirect_uris"),
            "{v}"
        );
    }
    // Unparseable JSON.
    for raw in [&b"{"[..], b"not json", b"", b"\xff\xfe"] {
        let r = s
            .http
            .post(s.url("/admin/v1/clients"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(raw.to_vec())
            .send()
            .await
            .unwrap();
        assert_field_error(r, "body").await;
    }
    // Nothing was created.
    let (_, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert_eq!(list["clients"], json!([]));
}

#[tokio::test]
async fn admin_body_over_64_kib_is_413() {
    let s = TestServer::start().await;
    let body = json!({"name": "x".repeat(70 * 1024), "redirect_uris": [REDIRECT_URI],
        "scopes": ["openid"], "grant_types": ["authorization_code"]});
    let r = s.admin("POST", "/admin/v1/clients", Some(body)).await;
    let (st, h, v) = json_of(r).await;
    assert_eq!(st, 413, "{v}");
    assert_json_content_type(&h);
    assert!(v["error"].is_string(), "{v}");
    // Just under the limit is parsed (and refused for the long name, not for the size).
    let body = json!({"name": "x".repeat(60 * 1024), "redirect_uris": [REDIRECT_URI],
        "scopes": ["openid"], "grant_types": ["authorization_code"]});
    let r = s.admin("POST", "/admin/v1/clients", Some(body)).await;
    assert_field_error(r, "name").await;
}

#[tokio::test]
async fn users_crud_block_unblock() {
    let s = TestServer::start().await;
    let u = s.create_user_json(full_profile(PHONE)).await;
    let sub = u["sub"].as_str().expect("sub is a string").to_string();
    assert!(
        !sub.is_empty() && sub.bytes().all(|b| b.is_ascii_digit()),
        "{sub}"
    );
    assert!(sub.parse::<u64>().unwrap() > 0);
    let created_at = u["created_at"].clone();
    assert!(created_at.is_i64());
    let want = json!({
        "sub": sub, "phone_number": "+919876543210", "phone_number_country_code": "IN",
        "phone_number_verified": true, "given_name": "Asha", "family_name": "Rao",
        "email": "asha@example.com", "picture": "https://img.example/asha.png",
        "gender": "female", "address": {"locality": "Pune", "postal_code": "411001"},
        "status": "active", "created_at": created_at,
    });
    assert_eq!(u, want);
    let (st, _, got) = json_of(
        s.admin("GET", &format!("/admin/v1/users/{sub}"), None)
            .await,
    )
    .await;
    assert_eq!((st, &got), (200, &want));

    // The same number, written differently, is a duplicate.
    for dup in [PHONE, "+91 98765-43210", "00919876543210"] {
        let r = s
            .admin(
                "POST",
                "/admin/v1/users",
                Some(json!({"phone_number": dup})),
            )
            .await;
        assert_json_error(
            r,
            409,
            json!({"error":"conflict","error_description":"phone_number +919876543210 is already registered"}),
        )
        .await;
    }

    let (st, _, b) = json_of(
        s.admin("POST", &format!("/admin/v1/users/{sub}/block"), None)
            .await,
    )
    .await;
    assert_eq!(st, 200);
    let mut blocked = want.clone();
    blocked["status"] = json!("blocked");
    assert_eq!(b, blocked);
    let (_, _, got) = json_of(
        s.admin("GET", &format!("/admin/v1/users/{sub}"), None)
            .await,
    )
    .await;
    assert_eq!(got["status"], "blocked");
    let (st, _, ub) = json_of(
        s.admin("POST", &format!("/admin/v1/users/{sub}/unblock"), None)
            .await,
    )
    .await;
    assert_eq!((st, &ub), (200, &want));

    let r = s
        .admin("DELETE", &format!("/admin/v1/users/{sub}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let no_user = json!({"error":"not_found","error_description":"No such user"});
    for (m, p) in [
        ("GET", format!("/admin/v1/users/{sub}")),
        ("DELETE", format!("/admin/v1/users/{sub}")),
        ("POST", format!("/admin/v1/users/{sub}/block")),
        ("POST", format!("/admin/v1/users/{sub}/unblock")),
        ("GET", "/admin/v1/users/1".to_string()),
    ] {
        let r = s.admin(m, &p, None).await;
        assert_json_error(r, 404, no_user.clone()).await;
    }
    // The number is free again.
    s.create_user_json(json!({"phone_number": PHONE})).await;
}

#[tokio::test]
async fn user_validation_names_the_field() {
    let s = TestServer::start().await;
    let good = full_profile(PHONE);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("phone_number", json!("hello")), "phone_number"),
        (with("phone_number", json!("+911")), "phone_number"),
        (with("phone_number", json!("")), "phone_number"),
        (with("email", json!("not-an-email")), "email"),
        (
            with("picture", json!("http://img.example/a.png")),
            "picture",
        ),
        (with("given_name", json!("x".repeat(500))), "given_name"),
        (with("given_name", json!("a\u{0}b")), "given_name"),
        (
            with("address", json!({"locality": "x".repeat(300)})),
            "address.locality",
        ),
        (with("nickname", json!("x")), "nickname"),
        (with("phone_number", json!(919876543210u64)), "phone_number"),
        (with("gender", json!(true)), "gender"),
        (
            with("address", json!({"locality": ["Pune"]})),
            "address.locality",
        ),
        (json!({"given_name": "x"}), "phone_number"),
    ];
    for (body, field) in cases {
        let r = s.admin("POST", "/admin/v1/users", Some(body)).await;
        assert_field_error(r, field).await;
    }
    for bad_sub in ["abc", "-1", "1.5", "99999999999999999999999"] {
        let r = s
            .admin("GET", &format!("/admin/v1/users/{bad_sub}"), None)
            .await;
        let st = r.status().as_u16();
        assert!(st == 404 || st == 400, "GET users/{bad_sub}: {st}");
    }
}

#[tokio::test]
async fn authorizations_mint_codes() {
    let s = TestServer::start_with(|st| st.code_ttl = std::time::Duration::from_secs(90)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = random_verifier();
    let r = s
        .authorize(
            &client,
            &sub,
            &["openid", "phone"],
            &challenge_of(&v),
            json!({"nonce": "n1", "redirect_uri": REDIRECT_URI}),
        )
        .await;
    let (st, h, body) = json_of(r).await;
    assert_eq!(st, 201, "{body}");
    assert_json_content_type(&h);
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(body["expires_in"], 90);
    let code = body["code"].as_str().unwrap();
    assert_eq!(code.len(), 48);
    assert_strong_secret("code", code);
    let c = Code {
        code: code.to_string(),
        verifier: v,
        challenge: String::new(),
    };
    s.exchange_ok(&client, &c).await;
}

/// One refused `POST /admin/v1/authorizations` and the field it must name.
struct Case<'a> {
    client: &'a str,
    sub: &'a str,
    scopes: &'a [&'a str],
    challenge: String,
    extra: Value,
    field: &'a str,
}

impl<'a> Case<'a> {
    fn new(client: &'a str, sub: &'a str, challenge: &str, field: &'a str) -> Self {
        Case {
            client,
            sub,
            scopes: &["openid"],
            challenge: challenge.to_string(),
            extra: json!({}),
            field,
        }
    }
}

#[tokio::test]
async fn authorization_errors_name_the_field() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let narrow = s
        .create_client(&["openid", "phone"], &["authorization_code"])
        .await;
    let sub = s.create_user().await;
    let blocked = s.create_bare_user().await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{blocked}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    let ch = challenge_of(&random_verifier());
    let (c, n, u, b) = (
        client.as_str(),
        narrow.as_str(),
        sub.as_str(),
        blocked.as_str(),
    );
    let case = |client, sub, field| Case::new(client, sub, &ch, field);
    let cases = vec![
        case("unknown-client", u, "client_id"),
        case(c, "123", "sub"),
        case(c, "not-a-number", "sub"),
        case(c, b, "sub"),
        Case {
            client: n,
            scopes: &["openid", "email"],
            ..case(n, u, "scopes")
        },
        Case {
            scopes: &["openid", "admin"],
            ..case(c, u, "scopes")
        },
        Case {
            challenge: "short".into(),
            ..case(c, u, "code_challenge")
        },
        Case {
            challenge: "a".repeat(129),
            ..case(c, u, "code_challenge")
        },
        Case {
            challenge: format!("{}+/=", "a".repeat(43)),
            ..case(c, u, "code_challenge")
        },
        Case {
            extra: json!({"code_challenge_method": "plain"}),
            ..case(c, u, "code_challenge_method")
        },
        Case {
            extra: json!({"code_challenge_method": "s256"}),
            ..case(c, u, "code_challenge_method")
        },
        Case {
            extra: json!({"redirect_uri": "https://evil.example/cb"}),
            ..case(c, u, "redirect_uri")
        },
        Case {
            extra: json!({"redirect_uri": "https://app.example/cb/"}),
            ..case(c, u, "redirect_uri")
        },
    ];
    for k in cases {
        let r = s
            .authorize(k.client, k.sub, k.scopes, &k.challenge, k.extra)
            .await;
        assert_field_error(r, k.field).await;
    }
    // Unknown members and bad JSON.
    let r = s
        .authorize(&client, &sub, &["openid"], &ch, json!({"state": "x"}))
        .await;
    assert_field_error(r, "state").await;
    let r = s
        .admin(
            "POST",
            "/admin/v1/authorizations",
            Some(json!({"client_id": client})),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 400, "{v}");
    // Nothing was minted: the codes table holds no row.
    let dump = s.dump_tables();
    for (t, rows) in dump {
        if t.contains("code") {
            assert!(rows.is_empty(), "table {t} has rows after refused mints");
        }
    }
}

#[tokio::test]
async fn rate_limit_of_a_new_client_applies_at_once() {
    let s = TestServer::start().await;
    let v = s
        .create_client_json(json!({
            "name": "Tight", "redirect_uris": [REDIRECT_URI], "scopes": ["phone"],
            "grant_types": ["authorization_code"], "rate_limit": {"per_second": 1, "burst": 1},
        }))
        .await;
    let id = v["client_id"].as_str().unwrap();
    let bogus = Code {
        code: "x".into(),
        verifier: random_verifier(),
        challenge: String::new(),
    };
    assert_eq!(s.exchange(id, &bogus).await.status(), 403);
    assert_json_error(s.exchange(id, &bogus).await, 429, e_too_many()).await;
}

/// The exact 400 of a refused field.
fn field_refused(field: &str, message: &str) -> Value {
    json!({"error": "invalid_request", "error_description": format!("{field}: {message}"),
        "field": field})
}

#[tokio::test]
async fn registration_refuses_redirect_uris_it_cannot_mean() {
    let s = TestServer::start().await;
    let before = s.dump_tables();
    let cases = [
        (
            "https://u:p@a.example/cb",
            "must not contain user information (user:password@)",
        ),
        (
            "https://a.example/cb#top",
            "must not contain a fragment (#)",
        ),
        (
            "http://example.com/cb",
            "http is allowed only on the loopback hosts 127.0.0.1 and [::1]; use https",
        ),
        (
            "http://localhost:8080/cb",
            "http is allowed only on the loopback hosts 127.0.0.1 and [::1]; use https",
        ),
        (
            "javascript:alert(1)",
            "the javascript scheme is not allowed",
        ),
        (
            "/cb",
            "must be an absolute URI, e.g. https://app.example/callback",
        ),
        (
            "myapp:/cb",
            "must be https, http on a loopback host, or a private-use scheme in reverse \
             domain form such as com.example.app (RFC 8252 §7.1)",
        ),
    ];
    for (uri, message) in cases {
        // Alone, and after a good one: the field names the position.
        for (uris, field) in [
            (json!([uri]), "redirect_uris[0]"),
            (json!([REDIRECT_URI, uri]), "redirect_uris[1]"),
        ] {
            let body = json!({"name": "Shop", "redirect_uris": uris, "scopes": ["openid"],
                "grant_types": ["authorization_code"]});
            let r = s.admin("POST", "/admin/v1/clients", Some(body)).await;
            assert_json_error(r, 400, field_refused(field, message)).await;
        }
    }
    // Nothing was written.
    let (_, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert_eq!(list["clients"], json!([]));
    assert_eq!(s.dump_tables(), before);
    // The forms that are meant are accepted.
    let v = s
        .create_client_json(json!({"name": "Native", "redirect_uris": [
            "https://a.example/cb?x=1", "http://127.0.0.1:9999/cb", "http://[::1]/cb",
            "com.example.app:/oauth2redirect"],
            "scopes": ["openid"], "grant_types": ["authorization_code"]}))
        .await;
    assert_eq!(
        v["redirect_uris"],
        json!([
            "https://a.example/cb?x=1",
            "http://127.0.0.1:9999/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect"
        ])
    );
}

#[tokio::test]
async fn registration_refuses_profiles_it_cannot_mean() {
    let s = TestServer::start().await;
    let before = s.dump_tables();
    let with = |k: &str, v: Value| {
        let mut b = full_profile(PHONE);
        b[k] = v;
        b
    };
    let cases = [
        (
            with("gender", json!("attack")),
            "gender",
            "must be female, male or other",
        ),
        (
            with("picture", json!("http://img.example/a.png")),
            "picture",
            "must be an https URL, e.g. https://app.example/path",
        ),
        (
            with("picture", json!("https://u:p@img.example/a.png")),
            "picture",
            "must not contain user information (user:password@)",
        ),
        (
            with("picture", json!("/a.png")),
            "picture",
            "must be an https URL, e.g. https://app.example/path",
        ),
    ];
    for (body, field, message) in cases {
        let r = s.admin("POST", "/admin/v1/users", Some(body)).await;
        assert_json_error(r, 400, field_refused(field, message)).await;
    }
    assert_eq!(s.dump_tables(), before, "nothing was written");
    // Gender is stored in lower case.
    let u = s.create_user_json(with("gender", json!("Other"))).await;
    assert_eq!(u["gender"], "other");
}

/// Issue 18: the five wrong JSON types an integrator hit, each a 400 naming its field (never
/// `body`), compared as whole bodies (sent as raw text, so the columns are fixed).
#[tokio::test]
async fn wrong_json_types_name_the_field_exactly() {
    let s = TestServer::start().await;
    let post = |path: &'static str, body: &'static str| {
        s.http
            .post(s.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (path, body, field, description) in [
        (
            "/admin/v1/clients",
            r#"{"name":123,"redirect_uris":["https://shop.example/cb"],"scopes":["openid"],"grant_types":["authorization_code"]}"#,
            "name",
            "name: invalid type: integer `123`, expected a string at line 1 column 11",
        ),
        (
            "/admin/v1/clients",
            r#"{"name":"Shop","redirect_uris":"https://shop.example/cb","scopes":["openid"],"grant_types":["authorization_code"]}"#,
            "redirect_uris",
            r#"redirect_uris: invalid type: string "https://shop.example/cb", expected a sequence at line 1 column 56"#,
        ),
        (
            "/admin/v1/clients",
            r#"{"name":"Shop","redirect_uris":["https://shop.example/cb"],"scopes":"openid","grant_types":["authorization_code"]}"#,
            "scopes",
            r#"scopes: invalid type: string "openid", expected a sequence at line 1 column 76"#,
        ),
        (
            "/admin/v1/users",
            r#"{"phone_number":919876543210}"#,
            "phone_number",
            "phone_number: invalid type: integer `919876543210`, expected a string at line 1 column 28",
        ),
        (
            "/admin/v1/users",
            r#"{"phone_number":"+919876543210","address":"x"}"#,
            "address",
            r#"address: invalid type: string "x", expected an object such as {"locality":"Bengaluru","postal_code":"560001"} at line 1 column 45"#,
        ),
    ] {
        let r = post(path, body).await.unwrap();
        let (st, h, v) = json_of(r).await;
        assert_json_content_type(&h);
        assert_eq!(
            (st, v),
            (
                400,
                json!({"error": "invalid_request", "field": field, "error_description": description})
            ),
            "{body}"
        );
    }
    // PATCH of a client names the same fields.
    let good = json!({"name": "Shop", "redirect_uris": [REDIRECT_URI], "scopes": ["openid"],
        "grant_types": ["authorization_code"]});
    let (_, _, c) = json_of(s.admin("POST", "/admin/v1/clients", Some(good)).await).await;
    let path = format!("/admin/v1/clients/{}", c["client_id"].as_str().unwrap());
    for (field, value) in [
        ("name", json!(123)),
        ("redirect_uris", json!("https://shop.example/cb")),
        ("scopes", json!("openid")),
    ] {
        let r = s.admin("PATCH", &path, Some(json!({ field: value }))).await;
        assert_field_error(r, field).await;
    }
    // The refused bodies created nothing, and PATCH changed nothing.
    let (_, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert_eq!(list["clients"], json!([c]), "{list}");
}
