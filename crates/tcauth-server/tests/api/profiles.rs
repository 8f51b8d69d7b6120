//! SDK v2.8 / iOS signed profiles (CONTRACT.md §10): `POST /admin/v1/profiles` and
//! `GET /v1/key`, the signatures checked by an independent implementation (the `openssl`
//! command line), the `verifier` by an independent HMAC, and key rotation.

use crate::common::*;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const PACKAGE: &str = "com.example.shop";

/// A client with a package name, and its app key (read from the store: the key is the
/// client's public identifier).
pub async fn sdk_client(s: &TestServer, package: Option<&str>) -> (String, String) {
    let mut body = json!({
        "name": "Shop",
        "redirect_uris": [REDIRECT_URI],
        "scopes": ["openid", "profile", "phone"],
        "grant_types": ["authorization_code"],
    });
    if let Some(p) = package {
        body["package_name"] = json!(p);
    }
    let v = s.create_client_json(body).await;
    let id = v["client_id"].as_str().unwrap().to_string();
    let c = s.store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(c.package_name.as_deref(), package);
    (id, c.app_key)
}

pub async fn sign(s: &TestServer, app_key: &str, sub: &str, nonce: &str) -> reqwest::Response {
    s.admin(
        "POST",
        "/admin/v1/profiles",
        Some(json!({"app_key": app_key, "sub": sub, "request_nonce": nonce})),
    )
    .await
}

pub async fn sign_ok(s: &TestServer, app_key: &str, sub: &str, nonce: &str) -> Value {
    let (st, h, v) = json_of(sign(s, app_key, sub, nonce).await).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    v
}

/// `GET /v1/key`'s keys, in order.
pub async fn keys(s: &TestServer) -> Vec<String> {
    let (st, h, v) = json_of(s.get("/v1/key").await).await;
    assert_eq!(st, 200, "{v}");
    assert_json_content_type(&h);
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k.as_object().unwrap().len(), 2, "{k}");
            assert_eq!(k["keyType"], "RSA");
            k["key"].as_str().unwrap().to_string()
        })
        .collect()
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line (apt-get install openssl)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Whether `openssl dgst -sha512 -verify` accepts `signature` (base64) over the bytes of
/// `payload` with `key` (base64 of a DER SubjectPublicKeyInfo, as `/v1/key` lists it).
pub fn openssl_verifies(key: &str, payload: &str, signature: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let der = STANDARD.decode(key).expect("key is standard base64");
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    std::fs::write(dir.path().join("pub.pem"), pem).unwrap();
    std::fs::write(
        dir.path().join("sig.bin"),
        STANDARD
            .decode(signature)
            .expect("signature is standard base64"),
    )
    .unwrap();
    std::fs::write(dir.path().join("payload.txt"), payload).unwrap();
    let (ok, text) = openssl(
        dir.path(),
        &[
            "dgst",
            "-sha512",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "payload.txt",
        ],
    );
    assert_eq!(ok, text.contains("Verified OK"), "{text}");
    ok
}

/// base64(HMAC-SHA256(key = app key, package name)) by `openssl dgst -sha256 -hmac`.
pub fn openssl_hmac(app_key: &str, package: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg"), package).unwrap();
    let (ok, text) = openssl(
        dir.path(),
        &[
            "dgst", "-sha256", "-hmac", app_key, "-binary", "-out", "mac", "msg",
        ],
    );
    assert!(ok, "{text}");
    STANDARD.encode(std::fs::read(dir.path().join("mac")).unwrap())
}

/// The JSON inside `payload`.
pub fn decoded(v: &Value) -> Value {
    let bytes = STANDARD
        .decode(v["payload"].as_str().unwrap())
        .expect("payload is standard base64");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// The answer without `payload`, `signature` and `signatureAlgorithm`: the fields the
/// payload carries.
fn side_by_side(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    for k in ["payload", "signature", "signatureAlgorithm"] {
        assert!(m.remove(k).is_some(), "{k} missing from {v}");
    }
    Value::Object(m)
}

#[tokio::test]
async fn a_signed_profile_verifies_with_openssl_and_a_tampered_one_does_not() {
    let s = TestServer::start().await;
    let (_, app_key) = sdk_client(&s, Some(PACKAGE)).await;
    let sub = s.create_user().await;
    let before = now();
    let v = sign_ok(&s, &app_key, &sub, "nonce-0123456789").await;
    let after = now();
    assert_eq!(v["signatureAlgorithm"], "SHA512withRSA");
    let p = decoded(&v);
    assert_eq!(side_by_side(&v), p, "the decoded fields side by side");
    let t = p["requestTime"].as_i64().unwrap();
    assert!((before..=after).contains(&t), "{t} in seconds");
    assert_eq!(
        p,
        json!({
            "requestNonce": "nonce-0123456789",
            "phoneNumber": "+919876543210",
            "firstName": "Asha",
            "lastName": "Rao",
            "gender": "F",
            "city": "Pune",
            "zipcode": "411001",
            "countryCode": "in",
            "email": "asha@example.com",
            "avatarUrl": "https://img.example/asha.png",
            "isTrueName": false,
            "isAmbassador": false,
            "requestTime": t,
            "verifier": openssl_hmac(&app_key, PACKAGE),
        })
    );

    let listed = keys(&s).await;
    assert_eq!(listed.len(), 1);
    let (payload, sig) = (
        v["payload"].as_str().unwrap(),
        v["signature"].as_str().unwrap(),
    );
    assert!(openssl_verifies(&listed[0], payload, sig));
    // One character of the payload changed, or another payload: rejected.
    let mut tampered = payload.as_bytes().to_vec();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    assert!(!openssl_verifies(
        &listed[0],
        std::str::from_utf8(&tampered).unwrap(),
        sig
    ));
    let other = sign_ok(&s, &app_key, &sub, "another-nonce").await;
    assert!(!openssl_verifies(
        &listed[0],
        other["payload"].as_str().unwrap(),
        sig
    ));
}

#[tokio::test]
async fn a_minimal_user_and_a_client_without_package_leave_attributes_out() {
    let s = TestServer::start().await;
    let (_, app_key) = sdk_client(&s, None).await;
    let sub = s.create_bare_user().await;
    let user = s
        .store
        .get_user(sub.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let v = sign_ok(&s, &app_key, &sub, "12345678").await;
    let p = decoded(&v);
    assert_eq!(side_by_side(&v), p);
    assert_eq!(
        p,
        json!({
            "requestNonce": "12345678",
            "phoneNumber": user.phone_e164,
            "gender": "N",
            "countryCode": "in",
            "isTrueName": false,
            "isAmbassador": false,
            "requestTime": p["requestTime"],
        })
    );
    assert!(openssl_verifies(
        &keys(&s).await[0],
        v["payload"].as_str().unwrap(),
        v["signature"].as_str().unwrap()
    ));
    // The members in the SDK's order: the three, then the payload's fields.
    let text = sign(&s, &app_key, &sub, "12345679")
        .await
        .text()
        .await
        .unwrap();
    let at: Vec<usize> = [
        "\"payload\":",
        "\"signature\":",
        "\"signatureAlgorithm\":",
        "\"requestNonce\":",
        "\"phoneNumber\":",
        "\"gender\":",
        "\"requestTime\":",
    ]
    .iter()
    .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn field_errors_name_the_field() {
    let s = TestServer::start().await;
    let (_, app_key) = sdk_client(&s, Some(PACKAGE)).await;
    let sub = s.create_user().await;
    let blocked = s.create_bare_user().await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{blocked}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    let ok = json!({"app_key": app_key, "sub": sub, "request_nonce": "12345678"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (without("app_key"), "app_key"),
        (without("sub"), "sub"),
        (without("request_nonce"), "request_nonce"),
        (with("app_key", json!(5)), "app_key"),
        (with("sub", json!(12)), "sub"),
        (with("request_nonce", json!(["12345678"])), "request_nonce"),
        (with("extra", json!(1)), "extra"),
        (with("app_key", json!("")), "app_key"),
        (with("app_key", json!("no-such-app-key")), "app_key"),
        (with("sub", json!("abc")), "sub"),
        (with("sub", json!("-1")), "sub"),
        (with("sub", json!("123456789")), "sub"),
        (with("sub", json!(blocked)), "sub"),
        (with("request_nonce", json!("1234567")), "request_nonce"),
        (
            with("request_nonce", json!("x".repeat(65))),
            "request_nonce",
        ),
        (with("request_nonce", json!("nonce-é-123")), "request_nonce"),
        (
            with("request_nonce", json!("nonce\n12345")),
            "request_nonce",
        ),
        (with("request_nonce", json!("nonce 12345")), "request_nonce"),
    ];
    for (body, field) in cases {
        let r = s
            .admin("POST", "/admin/v1/profiles", Some(body.clone()))
            .await;
        let (st, h, v) = json_of(r).await;
        assert_eq!(st, 400, "{body}: {v}");
        assert_json_content_type(&h);
        assert_eq!(v["error"], "invalid_request", "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
        assert!(v["error_description"].is_string(), "{v}");
    }
    // Not JSON at all: `body`.
    let r = s
        .http
        .post(s.url("/admin/v1/profiles"))
        .bearer_auth(&s.admin_token)
        .body("{")
        .send()
        .await
        .unwrap();
    let (st, _, v) = json_of(r).await;
    assert_eq!((st, &v["field"]), (400, &json!("body")), "{v}");
    // Without the admin token: 401.
    let r = s
        .http
        .post(s.url("/admin/v1/profiles"))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // And the right body still works: 64 visible characters.
    let nonce = format!("{}=~", "n".repeat(62));
    let v = sign_ok(&s, &app_key, &sub, &nonce).await;
    assert_eq!(v["requestNonce"], nonce.as_str());
}

#[tokio::test]
async fn after_a_rotation_both_keys_are_listed_and_old_profiles_still_verify() {
    let s = TestServer::start_with(|st| st.reload_interval = Duration::from_secs(1)).await;
    let (_, app_key) = sdk_client(&s, Some(PACKAGE)).await;
    let sub = s.create_user().await;
    let old = sign_ok(&s, &app_key, &sub, "before-rotation").await;
    let k0 = keys(&s).await;
    assert_eq!(k0.len(), 1);

    tcauth_server::keys::rotate(s.store.as_ref(), &secret())
        .await
        .unwrap();
    let k1 = eventually(Duration::from_secs(10), || async {
        let k = keys(&s).await;
        (k.len() == 2).then_some(k)
    })
    .await
    .expect("the new key is listed within a few reload intervals");
    assert_eq!(k1[1], k0[0], "the previous key comes second");
    assert_ne!(k1[0], k0[0], "the new key comes first");
    // The same keys as the JWKS.
    let (_, _, jwks) = json_of(s.get("/.well-known/jwks.json").await).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    let (p, sig) = (
        old["payload"].as_str().unwrap(),
        old["signature"].as_str().unwrap(),
    );
    assert!(
        openssl_verifies(&k1[1], p, sig),
        "old profile, previous key"
    );
    assert!(!openssl_verifies(&k1[0], p, sig), "old profile, new key");
    let new = sign_ok(&s, &app_key, &sub, "after-rotation").await;
    let (p, sig) = (
        new["payload"].as_str().unwrap(),
        new["signature"].as_str().unwrap(),
    );
    assert!(openssl_verifies(&k1[0], p, sig), "new profile, current key");
}

#[tokio::test]
async fn key_list_is_cacheable_briefly_and_public() {
    let s = TestServer::start().await;
    let r = s.get("/v1/key").await;
    assert_eq!(
        header(r.headers(), "cache-control"),
        Some("public, max-age=60")
    );
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some("*")
    );
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.starts_with(r#"[{"keyType":"RSA","key":""#), "{text}");
    assert!(text.ends_with(r#""}]"#), "{text}");
}

#[tokio::test]
async fn store_failures_are_json() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let s = TestServer::start_opts(opts, |st| st.store_timeout = Duration::from_millis(300)).await;
    let (_, app_key) = sdk_client(&s, Some(PACKAGE)).await;
    let sub = s.create_user().await;
    s.fault.as_ref().unwrap().fail();
    let h = assert_json_error(
        sign(&s, &app_key, &sub, "12345678").await,
        503,
        json!({"error": "temporarily_unavailable"}),
    )
    .await;
    assert_eq!(retry_after(&h), 1);
    s.fault.as_ref().unwrap().break_down();
    assert_json_error(
        sign(&s, &app_key, &sub, "12345678").await,
        500,
        json!({"error": "server_error"}),
    )
    .await;
    s.fault.as_ref().unwrap().pass();
    sign_ok(&s, &app_key, &sub, "12345678").await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
