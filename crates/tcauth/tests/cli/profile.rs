//! `tcauth profile sign` (CONTRACT.md §10): a signed profile checked by an independent
//! implementation (Python's `cryptography` over the store's public key, `openssl dgst -hmac`
//! for the verifier), its errors, on SQLite and (with `TCAUTH_TEST_DATABASE_URL`) PostgreSQL.

use super::{bare, text, Env};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::sync::Arc;
use tcauth_store::{PgOptions, PgStore, SqliteStore, Store};
use tcauth_testkit::gate;

const PACKAGE: &str = "com.example.shop";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Whether Python's `cryptography` accepts `signature` over the bytes of `payload` with the
/// RSA key (`n`, `e`), RSASSA-PKCS1-v1_5 / SHA-512.
fn python_verifies(n: &[u8], e: &[u8], payload: &str, signature: &str) -> bool {
    const SCRIPT: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.exceptions import InvalidSignature
n, e, payload, sig = sys.argv[1:5]
key = rsa.RSAPublicNumbers(int(e, 16), int(n, 16)).public_key()
try:
    key.verify(base64.b64decode(sig), payload.encode(), padding.PKCS1v15(), hashes.SHA512())
    print("ok")
except InvalidSignature:
    print("bad")
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            SCRIPT,
            &tcauth_core::secret::hex(n),
            &tcauth_core::secret::hex(e),
            payload,
            signature,
        ])
        .output()
        .expect("python3 with cryptography");
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    said.trim() == "ok"
}

/// base64(HMAC-SHA256(key = app key, package name)) by `openssl dgst -hmac`.
fn openssl_hmac(app_key: &str, package: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg"), package).unwrap();
    let out = Command::new("openssl")
        .args([
            "dgst", "-sha256", "-hmac", app_key, "-binary", "-out", "mac", "msg",
        ])
        .current_dir(dir.path())
        .output()
        .expect("the openssl command line");
    assert!(out.status.success(), "{}", text(&out.stderr));
    STANDARD.encode(std::fs::read(dir.path().join("mac")).unwrap())
}

/// The whole story against one store, `run` running the binary with that store's options.
fn story(rt: &tokio::runtime::Runtime, run: &dyn Fn(&[&str]) -> Output, store: Arc<dyn Store>) {
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let json = |args: &[&str]| -> Value { serde_json::from_str(&ok(args)).unwrap() };
    let c = json(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid profile phone",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap().to_string();
    let sub = json(&[
        "user",
        "add",
        "--phone",
        "+919876543210",
        "--given-name",
        "Asha",
        "--gender",
        "male",
        "--json",
    ])["sub"]
        .as_str()
        .unwrap()
        .to_string();
    // The package name through the store (the client commands' flag is another change's).
    let app_key = rt.block_on(async {
        let mut client = store.get_client(&id).await.unwrap().unwrap();
        client.package_name = Some(PACKAGE.into());
        client.updated_at_ms += 1;
        assert!(store.update_client(&client).await.unwrap());
        client.app_key
    });

    let args = |nonce: &str| {
        vec![
            "profile".to_string(),
            "sign".into(),
            "--app-key".into(),
            app_key.clone(),
            "--sub".into(),
            sub.clone(),
            "--request-nonce".into(),
            nonce.into(),
        ]
    };
    let with_json = |nonce: &str| {
        let mut a = args(nonce);
        a.push("--json".into());
        a
    };
    let call = |v: Vec<String>| run(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let out = call(with_json("cli-nonce-1234"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["signatureAlgorithm"], "SHA512withRSA");
    let payload = v["payload"].as_str().unwrap();
    let sig = v["signature"].as_str().unwrap();
    let decoded: Value = serde_json::from_slice(&STANDARD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        decoded,
        json!({
            "requestNonce": "cli-nonce-1234",
            "phoneNumber": "+919876543210",
            "firstName": "Asha",
            "gender": "M",
            "countryCode": "in",
            "isTrueName": false,
            "isAmbassador": false,
            "requestTime": decoded["requestTime"],
            "verifier": openssl_hmac(&app_key, PACKAGE),
        })
    );
    for (k, want) in decoded.as_object().unwrap() {
        assert_eq!(&v[k], want, "{k} side by side");
    }
    let keys = rt.block_on(store.list_signing_keys()).unwrap();
    let current = keys.iter().find(|k| k.current).unwrap();
    assert!(python_verifies(
        &current.public_n,
        &current.public_e,
        payload,
        sig
    ));
    let mut tampered = payload.to_string();
    tampered.replace_range(
        0..4,
        if payload.starts_with("AAAA") {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    assert!(!python_verifies(
        &current.public_n,
        &current.public_e,
        &tampered,
        sig
    ));

    // The text form: the three, then the fields.
    let out = call(args("cli-nonce-5678"));
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "signatureAlgorithm: SHA512withRSA",
        "requestNonce: cli-nonce-5678",
        "phoneNumber: +919876543210",
        "gender: M",
    ] {
        assert!(said.lines().any(|l| l == line), "{line:?} not in {said}");
    }
    assert!(said.starts_with("payload: "), "{said}");

    // Errors: a malformed field is a usage error (2) naming it; no such app or user, 1.
    let fails = |v: Vec<String>, code: i32, needle: &str| {
        let out = call(v);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
    };
    fails(args("short"), 2, "request_nonce");
    fails(args("has a space"), 2, "request_nonce");
    let mut bad_sub = args("cli-nonce-1234");
    bad_sub[5] = "not-a-sub".into();
    fails(bad_sub, 2, "sub");
    let mut unknown_key = args("cli-nonce-1234");
    unknown_key[3] = "no-such-app-key".into();
    fails(unknown_key, 1, "app_key: no such client");
    let mut unknown_sub = args("cli-nonce-1234");
    unknown_sub[5] = "123456789".into();
    fails(unknown_sub, 1, "sub: no such user");
    ok(&["user", "block", &sub]);
    fails(args("cli-nonce-1234"), 1, "sub: the user is blocked");
}

#[test]
fn profile_sign_on_sqlite() {
    let env = Env::new();
    // The first command creates the store, the secret and (profile sign) the first key.
    env.ok(&["migrate"]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(env.data().join("tcauth.db")).unwrap());
    story(&runtime(), &|args| env.run(args), store);
}

#[test]
fn profile_sign_help_has_an_example() {
    let env = Env::new();
    let out = bare(env.path(), &["profile", "sign", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "Example",
        "--app-key",
        "--request-nonce",
        "SHA512withRSA",
        "--data-dir",
    ] {
        assert!(help.contains(needle), "{needle:?} not in {help}");
    }
}

#[test]
fn profile_sign_on_postgres() {
    let Some(admin_url) = gate::env_or_skip(
        &gate::TEST_DATABASE_URL,
        "the CLI PostgreSQL test profile_sign_on_postgres",
    ) else {
        return;
    };
    let schema = super::postgres::Schema::create(&admin_url);
    let url = schema.url();
    let env = Env::new();
    const SECRET: &str = "a passphrase of more than thirty-two characters";
    let run = |args: &[&str]| {
        bare(env.path(), args)
            .env("TCAUTH_DATABASE_URL", &url)
            .env("TCAUTH_SECRET", SECRET)
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The pool lives on the runtime it was made on: the story runs on that one.
    let rt = runtime();
    let store: Arc<dyn Store> = Arc::new(
        rt.block_on(PgStore::connect(&url, PgOptions::default()))
            .unwrap(),
    );
    story(&rt, &run, store);
}
