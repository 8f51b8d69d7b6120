//! `tcauth client create|update|show|deliveries` with the §9–§10 fields: app_key,
//! callback_url (its secret printed once), package_name; `update` built on the admin API's
//! PATCH rules.

use super::*;
use serde_json::json;

const CALLBACK: &str = "https://shop.example/tc/callback";

fn create_full(env: &Env) -> Value {
    env.json(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid phone",
        "--callback-url",
        CALLBACK,
        "--package-name",
        "com.example.shop",
        "--json",
    ])
}

fn is_hex(v: &Value, len: usize) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn create_update_show_the_new_fields() {
    let env = Env::new();
    let c = create_full(&env);
    let id = c["client_id"].as_str().unwrap().to_string();
    assert!(is_hex(&c["app_key"], 32), "{c}");
    assert!(is_hex(&c["callback_secret"], 64), "{c}");
    assert_eq!(
        c,
        json!({"client_id": id, "app_key": c["app_key"], "name": "Shop",
            "redirect_uris": ["https://shop.example/cb"], "scopes": ["openid", "phone"],
            "grant_types": ["authorization_code"], "created_at": c["created_at"],
            "callback_url": CALLBACK, "package_name": "com.example.shop",
            "callback_secret": c["callback_secret"], "mode": "live"})
    );
    // Shown once: show and list leave it out.
    let mut shown = c.clone();
    shown.as_object_mut().unwrap().remove("callback_secret");
    assert_eq!(env.json(&["client", "show", &id, "--json"]), shown);
    assert_eq!(env.json(&["client", "list", "--json"]), json!([shown]));
    let text = env.ok(&["client", "show", &id]);
    for want in [c["app_key"].as_str().unwrap(), CALLBACK, "com.example.shop"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(!text.contains(c["callback_secret"].as_str().unwrap()));
    assert!(env
        .ok(&["client", "list"])
        .contains(c["app_key"].as_str().unwrap()));

    // A client without them: absent, and no secret.
    let plain = env.json(&[
        "client",
        "create",
        "--name",
        "Plain",
        "--redirect-uri",
        "https://plain.example/cb",
        "--scope",
        "openid",
        "--json",
    ]);
    for m in [
        "callback_url",
        "package_name",
        "callback_secret",
        "rate_limit",
    ] {
        assert!(plain.get(m).is_none(), "{m} in {plain}");
    }
    assert_ne!(plain["app_key"], c["app_key"]);

    // update: each option, the rest unchanged.
    let u = env.json(&[
        "client",
        "update",
        &id,
        "--name",
        "Shop 2",
        "--redirect-uri",
        "https://shop.example/cb2",
        "--redirect-uri",
        "com.example.shop:/cb",
        "--scopes",
        "openid,profile",
        "--grant-types",
        "authorization_code,refresh_token",
        "--rate-limit-per-second",
        "3",
        "--rate-limit-burst",
        "6",
        "--package-name",
        "com.example.shop2",
        "--json",
    ]);
    let want = json!({"client_id": id, "app_key": c["app_key"], "name": "Shop 2",
        "redirect_uris": ["https://shop.example/cb2", "com.example.shop:/cb"],
        "scopes": ["openid", "profile"],
        "grant_types": ["authorization_code", "refresh_token"],
        "rate_limit": {"per_second": 3, "burst": 6}, "created_at": c["created_at"],
        "callback_url": CALLBACK, "package_name": "com.example.shop2", "mode": "live"});
    assert_eq!(u, want, "no callback_secret when callback_url is not set");
    assert_eq!(env.json(&["client", "show", &id, "--json"]), want);

    // Setting the callback URL again: a new secret, printed once (text too).
    let again = env.json(&[
        "client",
        "update",
        &id,
        "--callback-url",
        CALLBACK,
        "--json",
    ]);
    assert!(is_hex(&again["callback_secret"], 64));
    assert_ne!(again["callback_secret"], c["callback_secret"]);
    let out = env.ok(&[
        "client",
        "update",
        &id,
        "--callback-url",
        "http://127.0.0.1:9000/cb",
    ]);
    assert!(out.contains("callback_secret: "), "{out}");
    assert!(!env.ok(&["client", "show", &id]).contains("callback_secret"));

    // --no-*: cleared.
    let cleared = env.json(&[
        "client",
        "update",
        &id,
        "--no-rate-limit",
        "--no-callback-url",
        "--no-package-name",
        "--json",
    ]);
    for m in [
        "callback_url",
        "package_name",
        "callback_secret",
        "rate_limit",
    ] {
        assert!(cleared.get(m).is_none(), "{m} in {cleared}");
    }
    assert_eq!(cleared["name"], "Shop 2");
}

#[test]
fn update_errors_name_the_field_and_change_nothing() {
    let env = Env::new();
    let c = create_full(&env);
    let id = c["client_id"].as_str().unwrap().to_string();
    let mut shown = c.clone();
    shown.as_object_mut().unwrap().remove("callback_secret");
    for (args, prefix) in [
        (
            vec!["--callback-url", "http://shop.example/cb"],
            "error: callback_url: ",
        ),
        (
            vec!["--callback-url", "https://169.254.169.254/"],
            "error: callback_url: ",
        ),
        (vec!["--package-name", "shop"], "error: package_name: "),
        (vec!["--name", " "], "error: name: "),
        (
            vec![
                "--redirect-uri",
                "https://a.example/",
                "--redirect-uri",
                "http://evil.example/",
            ],
            "error: redirect_uris[1]: ",
        ),
        (vec!["--scope", "root"], "error: scopes: "),
        (vec!["--grant-type", "password"], "error: grant_types: "),
        (
            vec!["--rate-limit-per-second", "0", "--rate-limit-burst", "1"],
            "error: rate_limit.per_second: ",
        ),
        (vec![], "error: nothing to change"),
        // A good option does not save a bad one.
        (
            vec!["--name", "Fine", "--package-name", "x"],
            "error: package_name: ",
        ),
    ] {
        let err = env.fails(&[&["client", "update", &id][..], &args].concat(), 2);
        assert!(err.starts_with(prefix), "{args:?}: {err}");
    }
    // clap refuses what contradicts itself.
    for args in [
        vec!["--callback-url", CALLBACK, "--no-callback-url"],
        vec!["--package-name", "a.b", "--no-package-name"],
        vec![
            "--rate-limit-per-second",
            "1",
            "--rate-limit-burst",
            "1",
            "--no-rate-limit",
        ],
        vec!["--rate-limit-per-second", "1"],
    ] {
        env.fails(&[&["client", "update", &id][..], &args].concat(), 2);
    }
    assert_eq!(env.json(&["client", "show", &id, "--json"]), shown);
    let err = env.fails(&["client", "update", "no-such-client", "--name", "x"], 1);
    assert!(err.starts_with("error: no client"), "{err}");
    let err = env.fails(
        &[
            "client",
            "create",
            "--name",
            "S",
            "--redirect-uri",
            "https://a.example/",
            "--scope",
            "openid",
            "--callback-url",
            "http://a.example/",
        ],
        2,
    );
    assert!(err.starts_with("error: callback_url: "), "{err}");
    let err = env.fails(
        &[
            "client",
            "create",
            "--name",
            "S",
            "--redirect-uri",
            "https://a.example/",
            "--scope",
            "openid",
            "--package-name",
            "1.2",
        ],
        2,
    );
    assert!(err.starts_with("error: package_name: "), "{err}");
}

#[test]
fn deliveries_of_a_client() {
    let env = Env::new();
    let c = create_full(&env);
    let id = c["client_id"].as_str().unwrap();
    assert_eq!(
        env.json(&["client", "deliveries", id, "--json"]),
        json!({"deliveries": []})
    );
    env.ok(&["client", "deliveries", id, "--limit", "100"]);
    env.fails(&["client", "deliveries", id, "--limit", "0"], 2);
    env.fails(&["client", "deliveries", id, "--limit", "101"], 2);
    let err = env.fails(&["client", "deliveries", "no-such-client"], 1);
    assert!(err.starts_with("error: no client"), "{err}");
}

#[test]
fn update_help_has_examples() {
    let env = Env::new();
    for cmd in ["update", "deliveries", "create"] {
        let out = bare(env.path(), &["client", cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
}

#[test]
fn clients_poll_ms_out_of_bounds_is_a_usage_error() {
    let env = Env::new();
    for v in ["0", "10", "901", "5000"] {
        let bad = env.write("poll.toml", &format!("clients_poll_ms = {v}\n"));
        let err = env.fails(&["serve", "--listen", "127.0.0.1:0", "--config", &bad], 2);
        assert!(err.contains("clients_poll_ms must be 50–900"), "{v}: {err}");
    }
}
