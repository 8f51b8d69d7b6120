//! The clients' §9–§10 fields through the admin API (CONTRACT.md §7, §9): `app_key`,
//! `callback_url` (and the `callback_secret` shown once), `package_name`; `PATCH`; the
//! deliveries log; and a change reaching a second node on the same store within 1 s.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_core::model::AttemptOutcome;
use tcauth_core::secret::TokenHash;
use tcauth_server::callbacks;
use tokio::sync::oneshot;

const CALLBACK: &str = "https://shop.example/tc/callback";

fn base() -> Value {
    json!({"name": "Shop", "redirect_uris": [REDIRECT_URI], "scopes": ["openid", "phone"],
        "grant_types": ["authorization_code"]})
}

fn with(mut v: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn no_client() -> Value {
    json!({"error":"not_found","error_description":"No such client"})
}

/// What `callback_secret` must be, computed here with ring: hex HMAC-SHA256 keyed with the
/// server secret over the label and the salt in the store.
async fn expected_secret(s: &TestServer, client_id: &str) -> String {
    let c = s.store.get_client(client_id).await.unwrap().unwrap();
    let salt = c.callback_salt.expect("a salt with a callback_url");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret().0);
    let tag = ring::hmac::sign(&key, format!("tcauth/v1/callback-secret/{salt}").as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hex32(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn patch(s: &TestServer, id: &str, body: Value) -> reqwest::Response {
    s.admin("PATCH", &format!("/admin/v1/clients/{id}"), Some(body))
        .await
}

async fn patch_ok(s: &TestServer, id: &str, body: Value) -> Value {
    let (st, h, v) = json_of(patch(s, id, body).await).await;
    assert_eq!(st, 200, "{v}");
    assert_json_content_type(&h);
    v
}

async fn get_client(s: &TestServer, id: &str) -> Value {
    let (st, _, v) = json_of(
        s.admin("GET", &format!("/admin/v1/clients/{id}"), None)
            .await,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

fn refused(field: &str, message: &str) -> Value {
    json!({"error": "invalid_request", "error_description": format!("{field}: {message}"),
        "field": field})
}

#[tokio::test]
async fn create_shows_app_key_and_the_callback_secret_only_when_set() {
    let s = TestServer::start().await;
    let plain = s.create_client_json(base()).await;
    let id = plain["client_id"].as_str().unwrap();
    assert!(is_hex32(&plain["app_key"]), "{plain}");
    assert_eq!(
        plain,
        json!({"client_id": id, "app_key": plain["app_key"], "name": "Shop",
            "redirect_uris": [REDIRECT_URI], "scopes": ["openid", "phone"],
            "grant_types": ["authorization_code"], "created_at": plain["created_at"],
            "mode": "live"}),
        "unset members are absent, never null"
    );

    let full = s
        .create_client_json(with(
            base(),
            json!({"callback_url": CALLBACK, "package_name": "com.shop.app"}),
        ))
        .await;
    let fid = full["client_id"].as_str().unwrap().to_string();
    assert!(is_hex32(&full["app_key"]));
    assert_ne!(full["app_key"], plain["app_key"]);
    assert_eq!(full["callback_url"], CALLBACK);
    assert_eq!(full["package_name"], "com.shop.app");
    let secret = full["callback_secret"].as_str().unwrap().to_string();
    assert_eq!(secret, expected_secret(&s, &fid).await);
    assert_strong_secret("callback_secret", &secret);

    // Never again: not in GET, not in the list, not in a PATCH that leaves the URL alone.
    let mut shown = full.clone();
    shown.as_object_mut().unwrap().remove("callback_secret");
    assert_eq!(get_client(&s, &fid).await, shown);
    let (_, _, list) = json_of(s.admin("GET", "/admin/v1/clients", None).await).await;
    assert!(
        list["clients"].as_array().unwrap().contains(&shown),
        "{list}"
    );
    assert!(!list.to_string().contains(&secret));
    let v = patch_ok(&s, &fid, json!({"name": "Shop 2"})).await;
    assert!(v.get("callback_secret").is_none(), "{v}");

    // Setting the URL again (even the same one) gives a new secret, shown once.
    let v = patch_ok(&s, &fid, json!({"callback_url": CALLBACK})).await;
    let again = v["callback_secret"].as_str().unwrap();
    assert_ne!(again, secret);
    assert_eq!(again, expected_secret(&s, &fid).await);
    assert!(get_client(&s, &fid).await.get("callback_secret").is_none());

    // App keys are unique.
    let mut keys = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let v = s.create_client_json(base()).await;
        assert!(keys.insert(v["app_key"].as_str().unwrap().to_string()));
    }
}

#[tokio::test]
async fn patch_changes_each_field_and_null_clears() {
    let s = TestServer::start().await;
    let c = s.create_client_json(base()).await;
    let id = c["client_id"].as_str().unwrap();
    let app_key = c["app_key"].clone();
    let created_at = c["created_at"].clone();
    let before = s.store.get_client(id).await.unwrap().unwrap().updated_at_ms;

    let v = patch_ok(
        &s,
        id,
        json!({"name": "  Renamed ", "redirect_uris": [REDIRECT_URI, "com.shop.app:/cb"],
            "scopes": ["phone", "openid", "profile"],
            "grant_types": ["authorization_code", "refresh_token"],
            "rate_limit": {"per_second": 7, "burst": 9},
            "callback_url": "http://127.0.0.1:9/cb", "package_name": "com.shop.app"}),
    )
    .await;
    let secret = v["callback_secret"].clone();
    assert!(secret.is_string());
    let want = json!({"client_id": id, "app_key": app_key, "name": "Renamed",
        "redirect_uris": [REDIRECT_URI, "com.shop.app:/cb"],
        "scopes": ["openid", "profile", "phone"],
        "grant_types": ["authorization_code", "refresh_token"],
        "rate_limit": {"per_second": 7, "burst": 9}, "created_at": created_at,
        "callback_url": "http://127.0.0.1:9/cb", "package_name": "com.shop.app",
        "mode": "live"});
    assert_eq!(v, with(want.clone(), json!({"callback_secret": secret})));
    assert_eq!(get_client(&s, id).await, want);
    let after = s.store.get_client(id).await.unwrap().unwrap().updated_at_ms;
    assert!(after > before, "{after} > {before}");

    // One field at a time.
    for (body, member, value) in [
        (json!({"name": "One"}), "name", json!("One")),
        (
            json!({"redirect_uris": ["http://[::1]:8080/cb"]}),
            "redirect_uris",
            json!(["http://[::1]:8080/cb"]),
        ),
        (json!({"scopes": ["openid"]}), "scopes", json!(["openid"])),
        (
            json!({"grant_types": ["refresh_token"]}),
            "grant_types",
            json!(["refresh_token"]),
        ),
        (
            json!({"rate_limit": {"per_second": 1, "burst": 2}}),
            "rate_limit",
            json!({"per_second": 1, "burst": 2}),
        ),
        (
            json!({"package_name": "in.shop.app_2"}),
            "package_name",
            json!("in.shop.app_2"),
        ),
        (
            json!({"callback_url": "https://localhost/x"}),
            "callback_url",
            json!("https://localhost/x"),
        ),
    ] {
        let v = patch_ok(&s, id, body.clone()).await;
        assert_eq!(v[member], value, "{body} → {v}");
        assert_eq!(get_client(&s, id).await[member], value);
    }

    // null clears the optional members: they are then absent.
    let v = patch_ok(
        &s,
        id,
        json!({"rate_limit": null, "callback_url": null, "package_name": null}),
    )
    .await;
    for m in [
        "rate_limit",
        "callback_url",
        "package_name",
        "callback_secret",
    ] {
        assert!(v.get(m).is_none(), "{m} in {v}");
    }
    let stored = s.store.get_client(id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.callback_url,
            stored.callback_salt,
            stored.package_name
        ),
        (None, None, None)
    );

    // {} changes nothing and answers the client.
    let now = get_client(&s, id).await;
    let at = s.store.get_client(id).await.unwrap().unwrap().updated_at_ms;
    assert_eq!(patch_ok(&s, id, json!({})).await, now);
    assert_eq!(
        s.store.get_client(id).await.unwrap().unwrap().updated_at_ms,
        at
    );
}

#[tokio::test]
async fn patch_refuses_bad_fields_naming_each() {
    let s = TestServer::start().await;
    let c = s.create_client_json(base()).await;
    let id = c["client_id"].as_str().unwrap();
    let before = s.dump_tables();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"callback_url": "http://shop.example/cb"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "https://169.254.169.254/"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "ftp://shop.example/cb"}),
            "callback_url",
        ),
        (json!({"callback_url": 5}), "callback_url"),
        (json!({"package_name": "shop"}), "package_name"),
        (json!({"package_name": "com.1shop"}), "package_name"),
        (json!({"package_name": ["com.shop"]}), "package_name"),
        (json!({"name": ""}), "name"),
        (json!({"name": 3}), "name"),
        (json!({"name": null}), "name"),
        (json!({"redirect_uris": []}), "redirect_uris"),
        (
            json!({"redirect_uris": "https://a.example/"}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": [REDIRECT_URI, "http://evil.example/"]}),
            "redirect_uris[1]",
        ),
        (
            json!({"redirect_uris": [REDIRECT_URI, 7]}),
            "redirect_uris[1]",
        ),
        (json!({"redirect_uris": null}), "redirect_uris"),
        (json!({"scopes": ["root"]}), "scopes"),
        (json!({"scopes": null}), "scopes"),
        (json!({"grant_types": ["password"]}), "grant_types"),
        (json!({"grant_types": null}), "grant_types"),
        (
            json!({"rate_limit": {"per_second": 0, "burst": 1}}),
            "rate_limit.per_second",
        ),
        (
            json!({"rate_limit": {"per_second": 1, "burst": "2"}}),
            "rate_limit.burst",
        ),
        (json!({"rate_limit": {"per_second": 1}}), "rate_limit.burst"),
        (json!({"rate_limit": 5}), "rate_limit"),
        (
            json!({"app_key": "0123456789abcdef0123456789abcdef"}),
            "app_key",
        ),
        (json!({"client_id": "x"}), "client_id"),
        (json!({"callback_secret": "x"}), "callback_secret"),
        (json!([]), "body"),
        // A good field does not save a bad one.
        (
            json!({"name": "Fine", "package_name": "bad"}),
            "package_name",
        ),
    ];
    for (body, field) in cases {
        let (st, h, v) = json_of(patch(&s, id, body.clone()).await).await;
        assert_eq!((st, &v["field"]), (400, &json!(field)), "{body} → {v}");
        assert_json_content_type(&h);
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
    }
    let r = patch(&s, id, json!({"callback_url": "https://169.254.169.254/"})).await;
    let (_, _, v) = json_of(r).await;
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with("callback_url: "),
        "{v}"
    );
    // Not JSON.
    let r = s
        .http
        .patch(s.url(&format!("/admin/v1/clients/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (st, _, v) = json_of(r).await;
    assert_eq!((st, &v["field"]), (400, &json!("body")), "{v}");
    assert_eq!(s.dump_tables(), before, "a refused patch writes nothing");
    assert_eq!(get_client(&s, id).await, c);
}

#[tokio::test]
async fn create_refuses_bad_callback_url_and_package_name() {
    let s = TestServer::start().await;
    for (extra, field) in [
        (
            json!({"callback_url": "http://shop.example/cb"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "https://169.254.169.254/"}),
            "callback_url",
        ),
        (
            json!({"callback_url": null, "package_name": 1}),
            "package_name",
        ),
        (json!({"package_name": "noseparator"}), "package_name"),
        (json!({"app_key": "mine"}), "app_key"),
    ] {
        let r = s
            .admin(
                "POST",
                "/admin/v1/clients",
                Some(with(base(), extra.clone())),
            )
            .await;
        let (st, _, v) = json_of(r).await;
        assert_eq!((st, &v["field"]), (400, &json!(field)), "{extra} → {v}");
    }
    let r = s
        .admin(
            "POST",
            "/admin/v1/clients",
            Some(with(base(), json!({"package_name": "noseparator"}))),
        )
        .await;
    let (_, _, v) = json_of(r).await;
    assert_eq!(
        v,
        refused(
            "package_name",
            "must be an Android package name such as com.example.app (letters, digits and _, \
             at least two segments, at most 255 characters)"
        )
    );
}

#[tokio::test]
async fn unknown_clients_are_404() {
    let s = TestServer::start().await;
    let r = patch(&s, "no-such-client", json!({"name": "x"})).await;
    assert_json_error(r, 404, no_client()).await;
    let r = patch(&s, "no-such-client", json!({})).await;
    assert_json_error(r, 404, no_client()).await;
    let r = s
        .admin("GET", "/admin/v1/clients/no-such-client/deliveries", None)
        .await;
    assert_json_error(r, 404, no_client()).await;
    // A deleted client, too.
    let id = s.create_client(&["openid"], &["authorization_code"]).await;
    assert_eq!(
        s.admin("DELETE", &format!("/admin/v1/clients/{id}"), None)
            .await
            .status(),
        204
    );
    assert_json_error(patch(&s, &id, json!({"name": "x"})).await, 404, no_client()).await;
    // The admin token is required.
    let r = s
        .http
        .patch(s.url(&format!("/admin/v1/clients/{id}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .get(s.url(&format!("/admin/v1/clients/{id}/deliveries")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn deliveries_list_newest_first_without_token_or_body() {
    let s = TestServer::start().await;
    let c = s
        .create_client_json(with(base(), json!({"callback_url": CALLBACK})))
        .await;
    let id = c["client_id"].as_str().unwrap();
    let other = s
        .create_client_json(with(base(), json!({"callback_url": CALLBACK})))
        .await;
    let empty = format!("/admin/v1/clients/{id}/deliveries");
    let (st, _, v) = json_of(s.admin("GET", &empty, None).await).await;
    assert_eq!((st, v), (200, json!({"deliveries": []})));

    let now = tcauth_server::now();
    let token = "secret-access-token-0123456789abcdefghij";
    let mut seeded = Vec::new();
    for (i, body) in [
        callbacks::Body::Granted {
            request_id: "nonce-granted-1".into(),
            access_token: token.into(),
            endpoint: format!("{}/v1/default", s.base),
        },
        callbacks::Body::rejected("nonce-rejected-2"),
        callbacks::Body::rejected("nonce-pending-3"),
    ]
    .into_iter()
    .enumerate()
    {
        let created_ms = (now - 30 + i as i64 * 10) * 1000;
        let mut d = callbacks::queued(
            &s.settings.secret,
            id,
            CALLBACK,
            &body,
            created_ms,
            now + 600,
        );
        // Not due for an hour: no delivery worker touches it during the test.
        d.next_attempt_at_ms = (now + 3600) * 1000 + 1;
        let key = TokenHash::of(&format!("web-ix-{i}-{}", tcauth_core::secret::new_id()));
        assert!(s
            .store
            .finish_web_interaction(&key, now + 600, None, &d)
            .await
            .unwrap());
        seeded.push(d);
    }
    let d = callbacks::queued(
        &s.settings.secret,
        other["client_id"].as_str().unwrap(),
        CALLBACK,
        &callbacks::Body::rejected("nonce-other"),
        now * 1000,
        now + 600,
    );
    let key = TokenHash::of(&format!("web-ix-other-{}", tcauth_core::secret::new_id()));
    s.store
        .finish_web_interaction(&key, now + 600, None, &d)
        .await
        .unwrap();
    assert!(s
        .store
        .record_delivery_attempt(&seeded[0].id, &AttemptOutcome::Delivered { at: now - 5 })
        .await
        .unwrap());
    assert!(s
        .store
        .record_delivery_attempt(
            &seeded[1].id,
            &AttemptOutcome::Failed {
                error: "HTTP 500".into()
            }
        )
        .await
        .unwrap());

    let (st, h, v) = json_of(s.admin("GET", &empty, None).await).await;
    assert_eq!(st, 200, "{v}");
    assert_json_content_type(&h);
    let want = json!({"deliveries": [
        {"id": seeded[2].id, "request_id": "nonce-pending-3", "status": "pending",
            "attempts": 0, "last_error": null, "next_attempt_at": now + 3601,
            "created_at": now - 10, "delivered_at": null},
        {"id": seeded[1].id, "request_id": "nonce-rejected-2", "status": "failed",
            "attempts": 1, "last_error": "HTTP 500", "next_attempt_at": null,
            "created_at": now - 20, "delivered_at": null},
        {"id": seeded[0].id, "request_id": "nonce-granted-1", "status": "delivered",
            "attempts": 1, "last_error": null, "next_attempt_at": null,
            "created_at": now - 30, "delivered_at": now - 5},
    ]});
    assert_eq!(v, want);
    let text = v.to_string();
    assert!(
        !text.contains(token) && !text.contains("accessToken"),
        "{text}"
    );
    assert!(!text.contains(CALLBACK), "{text}");

    // ?limit
    let (st, _, v) = json_of(s.admin("GET", &format!("{empty}?limit=1"), None).await).await;
    assert_eq!(st, 200);
    assert_eq!(v, json!({"deliveries": [want["deliveries"][0]]}));
    let (st, _, v) = json_of(s.admin("GET", &format!("{empty}?limit=100"), None).await).await;
    assert_eq!((st, v["deliveries"].as_array().unwrap().len()), (200, 3));
    for q in [
        "limit=0",
        "limit=101",
        "limit=x",
        "limit=-1",
        "limit=",
        "limit=1&limit=2",
    ] {
        let r = s.admin("GET", &format!("{empty}?{q}"), None).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 400, "{q}: {v}");
        assert_eq!(v["error"], "invalid_request", "{q}: {v}");
    }
    let r = s.admin("GET", &format!("{empty}?limit=0"), None).await;
    assert_json_error(r, 400, refused("limit", "must be an integer 1–100")).await;
    let r = s.admin("GET", &format!("{empty}?offset=3"), None).await;
    let (st, _, v) = json_of(r).await;
    assert_eq!((st, &v["field"]), (400, &json!("offset")), "{v}");
}

/// A second server on the store (the same SQLite file) of `s`, with `s`'s settings but its
/// own port; stopped when the sender is dropped.
async fn second_node(s: &TestServer) -> (String, oneshot::Sender<()>) {
    let store = Arc::new(tcauth_store::SqliteStore::open(&s.db_path).unwrap());
    let listener = tcauth_testkit::ports::local_listener().await;
    let addr = listener.local_addr().unwrap();
    let mut settings = s.settings.clone();
    settings.listen = addr;
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(tcauth_server::serve(
        listener,
        settings,
        store,
        async move {
            let _ = rx.await;
        },
    ));
    let base = format!("http://{addr}");
    tcauth_testkit::ready::wait_ready(&s.http, &format!("{base}/readyz"), Duration::from_secs(20))
        .await;
    (base, tx)
}

async fn exchange_status(http: &reqwest::Client, base: &str, client_id: &str) -> u16 {
    http.post(format!("{base}/v1/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", "no-such-code"),
            ("code_verifier", &"v".repeat(43)),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patched_rate_limit_reaches_another_node_within_a_second() {
    let s = TestServer::start().await;
    let (b, _stop) = second_node(&s).await;
    let id = s.create_client(&["openid"], &["authorization_code"]).await;
    // Node B knows the client (default limit: 100/s, burst 200): admitted, 403.
    for _ in 0..3 {
        assert_eq!(exchange_status(&s.http, &b, &id).await, 403);
    }
    let v = patch_ok(
        &s,
        &id,
        json!({"rate_limit": {"per_second": 1, "burst": 1}}),
    )
    .await;
    assert_eq!(v["rate_limit"], json!({"per_second": 1, "burst": 1}));
    let changed = Instant::now();
    let mut applied = None;
    while changed.elapsed() < Duration::from_secs(3) {
        if exchange_status(&s.http, &b, &id).await == 429 {
            applied = Some(changed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = applied.expect("node B never applied the new limit");
    eprintln!("node B applied the patched rate limit after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Cleared again: B is back to the default (five admitted in a row) within 1 s.
    patch_ok(&s, &id, json!({"rate_limit": null})).await;
    let cleared = Instant::now();
    let back = eventually(Duration::from_secs(3), || async {
        for _ in 0..5 {
            if exchange_status(&s.http, &b, &id).await != 403 {
                return None;
            }
        }
        Some(cleared.elapsed())
    })
    .await
    .expect("node B never went back to the default limit");
    assert!(back < Duration::from_secs(1), "{back:?}");
}
