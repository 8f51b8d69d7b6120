//! The `tcauth` binary, run for real: each test has its own temporary directory as working
//! directory and data dir, so tests run in parallel and in any order.

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tcauth_testkit::ports::free_port;
use tcauth_testkit::ready;

const BIN: &str = env!("CARGO_BIN_EXE_tcauth");

mod clients;
mod postgres;
mod profile;
mod test_mode;
mod usage;
mod users;

/// A temporary working directory with a data dir inside.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// `tcauth ARGS… --data-dir <data>`, with no TCAUTH_* variables from the caller.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bare(self.path(), args);
        c.arg("--data-dir").arg(self.data());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs, expects exit 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs, expects exit `code`, returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        stderr
    }

    fn write(&self, name: &str, content: &str) -> String {
        let p = self.path().join(name);
        fs::write(&p, content).unwrap();
        p.to_str().unwrap().to_string()
    }
}

/// `tcauth ARGS…` in `dir`, without any TCAUTH_* variable of the caller's environment.
fn bare(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TCAUTH_") {
            c.env_remove(k);
        }
    }
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn migrate_reports_versions() {
    let env = Env::new();
    let out = env.ok(&["migrate"]);
    assert!(out.starts_with("database at version "), "{out}");
    assert!(out.trim_end().ends_with("(was 0)"), "{out}");
    assert_eq!(mode(&env.data()), 0o700);
    let v = env.json(&["migrate", "--json"]);
    assert!(v["version"].as_u64().unwrap() >= 1);
    assert_eq!(v["version"], v["previous_version"]);
    assert!(v["database"].as_str().unwrap().starts_with("sqlite://"));
}

#[test]
fn client_create_list_show_delete() {
    let env = Env::new();
    let c = env.json(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--redirect-uri",
        "com.example.shop:/oauth",
        "--scope",
        "openid phone",
        "--scope",
        "profile,offline_access",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--rate-limit-per-second",
        "5",
        "--rate-limit-burst",
        "10",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "app_key",
            "client_id",
            "created_at",
            "grant_types",
            "mode",
            "name",
            "rate_limit",
            "redirect_uris",
            "scopes"
        ]
    );
    assert_eq!(c["name"], "Shop");
    assert_eq!(
        c["redirect_uris"],
        serde_json::json!(["https://shop.example/cb", "com.example.shop:/oauth"])
    );
    assert_eq!(
        c["scopes"],
        serde_json::json!(["openid", "profile", "phone", "offline_access"])
    );
    assert_eq!(
        c["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        c["rate_limit"],
        serde_json::json!({"per_second": 5, "burst": 10})
    );
    assert!(c["created_at"].as_i64().unwrap() > 1_600_000_000);

    let d = env.json(&[
        "client",
        "create",
        "--name",
        "Default grants",
        "--redirect-uri",
        "http://127.0.0.1:5000/cb",
        "--scope",
        "openid",
        "--json",
    ]);
    assert_eq!(d["grant_types"], serde_json::json!(["authorization_code"]));
    assert_eq!(d["rate_limit"], Value::Null);

    let list = env.json(&["client", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().contains(&c));
    assert_eq!(env.json(&["client", "show", &id, "--json"]), c);
    let human = env.ok(&["client", "show", &id]);
    assert!(human.contains(&id) && human.contains("Shop"), "{human}");
    assert!(env.ok(&["client", "list"]).contains(&id));

    let del = env.json(&["client", "delete", &id, "--json"]);
    assert_eq!(del, serde_json::json!({"client_id": id, "deleted": true}));
    let err = env.fails(&["client", "show", &id], 1);
    assert!(err.starts_with("error: no client"), "{err}");
    env.fails(&["client", "delete", &id], 1);
    assert_eq!(
        env.json(&["client", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn client_validation_errors_exit_2_naming_the_field() {
    let env = Env::new();
    let base = ["client", "create", "--name", "Shop", "--scope", "openid"];
    let err = env.fails(
        &[&base[..], &["--redirect-uri", "http://evil.example/cb"]].concat(),
        2,
    );
    assert!(err.starts_with("error: redirect_uris[0]: "), "{err}");
    let err = env.fails(
        &[
            "client",
            "create",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://a.example/cb",
            "--scope",
            "openid root",
        ],
        2,
    );
    assert!(err.starts_with("error: scopes: "), "{err}");
    let err = env.fails(
        &[
            &base[..],
            &[
                "--redirect-uri",
                "https://a.example/cb",
                "--grant-type",
                "password",
            ],
        ]
        .concat(),
        2,
    );
    assert!(err.starts_with("error: grant_types: "), "{err}");
    // clap's own usage errors exit 2 as well
    env.fails(&["client", "create", "--name", "Shop"], 2);
    env.fails(
        &[
            &base[..],
            &[
                "--redirect-uri",
                "https://a.example/cb",
                "--rate-limit-burst",
                "3",
            ],
        ]
        .concat(),
        2,
    );
    assert_eq!(
        env.json(&["client", "list", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn user_add_show_block_delete() {
    let env = Env::new();
    let sub = env.ok(&[
        "user",
        "add",
        "--phone",
        "+91 98765 43210",
        "--given-name",
        "Asha",
    ]);
    let sub = sub.trim();
    assert!(sub.parse::<i64>().unwrap() > 0);
    let u = env.json(&["user", "show", sub, "--json"]);
    assert_eq!(u["sub"], sub);
    assert_eq!(u["phone_number"], "+919876543210");
    assert_eq!(u["phone_number_country_code"], "IN");
    assert_eq!(u["given_name"], "Asha");
    assert_eq!(u["status"], "active");
    assert!(u.get("email").is_none());

    let full = env.json(&[
        "user",
        "add",
        "--phone",
        "+447911123456",
        "--email",
        "sam@example.com",
        "--locality",
        "London",
        "--postal-code",
        "SW1A 1AA",
        "--json",
    ]);
    assert_eq!(
        full["address"],
        serde_json::json!({"locality": "London", "postal_code": "SW1A 1AA"})
    );
    assert_eq!(full["email"], "sam@example.com");

    let err = env.fails(&["user", "add", "--phone", "+919876543210"], 1);
    assert!(
        err.contains("already registered") && err.contains(sub),
        "{err}"
    );
    let err = env.fails(&["user", "add", "--phone", "12345"], 2);
    assert!(err.starts_with("error: phone_number: "), "{err}");
    let err = env.fails(
        &["user", "add", "--phone", "+919876543219", "--email", "nope"],
        2,
    );
    assert!(err.starts_with("error: email: "), "{err}");

    assert_eq!(
        env.json(&["user", "block", sub, "--json"]),
        serde_json::json!({"sub": sub, "status": "blocked"})
    );
    assert_eq!(
        env.json(&["user", "show", sub, "--json"])["status"],
        "blocked"
    );
    env.ok(&["user", "unblock", sub]);
    assert_eq!(
        env.json(&["user", "show", sub, "--json"])["status"],
        "active"
    );
    assert!(env.ok(&["user", "show", sub]).contains("+919876543210"));

    env.ok(&["user", "delete", sub]);
    let err = env.fails(&["user", "show", sub], 1);
    assert!(err.contains("no user"), "{err}");
    env.fails(&["user", "delete", sub], 1);
    env.fails(&["user", "block", sub], 1);
    env.fails(&["user", "show", "not-a-number"], 2);
}

const GOOD_CSV: &str = "phone_number,Given_Name,family_name,email,locality,postal_code,country
+919876543210,Asha,Rao,asha@example.com,Bengaluru,560001,IN
+447911123456,Sam,,,,,
\"+1 415 555 0123\",\"Lee, Jr.\",,,,,
";

#[test]
fn import_good_file() {
    let env = Env::new();
    let file = env.write("users.csv", GOOD_CSV);
    let out = env.ok(&["user", "import", &file]);
    assert_eq!(out.trim(), "imported 3 users, skipped 0 invalid rows");
    // every number is now registered
    let v = env.json(&["user", "import", &file, "--skip-invalid", "--json"]);
    assert_eq!(v["imported"], 0);
    assert_eq!(v["skipped"], 3);
    assert!(v["errors"][2]
        .as_str()
        .unwrap()
        .starts_with("line 4: phone_number: +14155550123 is already registered"));
}

#[test]
fn import_with_bad_rows_imports_nothing_unless_skip_invalid() {
    let env = Env::new();
    let file = env.write(
        "users.csv",
        "phone_number,given_name,email\n\
         +919876543210,Asha,\n\
         12345,Bad,\n\
         +447911123456,Sam,not-an-email\n\
         +14155550123,Lee,\n\
         +919876543210,Again,\n",
    );
    let out = env.run(&["user", "import", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3: phone_number: "), "{err}");
    assert!(err.contains("line 4: email: "), "{err}");
    assert!(
        err.contains("line 6: phone_number: +919876543210 is also on line 2"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(text(&out.stdout), "");

    let v = serde_json::from_slice::<Value>(&env.run(&["user", "import", &file, "--json"]).stdout)
        .unwrap();
    assert_eq!(v["imported"], 0);
    assert_eq!(v["error_count"], 3);

    // nothing was imported: the good numbers are still free
    let sub = env.ok(&["user", "add", "--phone", "+14155550123"]);
    let v = env.json(&["user", "import", &file, "--skip-invalid", "--json"]);
    assert_eq!(v["imported"], 1);
    assert_eq!(v["skipped"], 4);
    let errors = v["errors"].as_array().unwrap();
    assert!(errors[2]
        .as_str()
        .unwrap()
        .contains(&format!("already registered to user {}", sub.trim())));
    let err = env.fails(&["user", "add", "--phone", "+919876543210"], 1);
    assert!(err.contains("already registered"), "{err}");
}

#[test]
fn import_rejects_bad_files() {
    let env = Env::new();
    let file = env.write("u.csv", "phone_number,nickname\n+919876543210,A\n");
    let err = env.fails(&["user", "import", &file], 2);
    assert!(err.contains("unknown column \"nickname\""), "{err}");
    let file = env.write("u.csv", "given_name\nAsha\n");
    let err = env.fails(&["user", "import", &file], 2);
    assert!(err.contains("phone_number column is missing"), "{err}");
    let long = "x".repeat(2049);
    let file = env.write(
        "u.csv",
        &format!("phone_number,given_name\n+919876543210,{long}\n"),
    );
    let err = env.fails(&["user", "import", &file], 1);
    assert!(
        err.contains("line 2: given_name: longer than 2048 bytes"),
        "{err}"
    );
    let err = env.fails(&["user", "import", "missing.csv"], 1);
    assert!(err.contains("cannot open"), "{err}");
}

#[test]
fn secret_file_is_private_and_reused_and_keys_rotate() {
    let env = Env::new();
    let kid1 = env.ok(&["keys", "rotate"]);
    let secret = env.data().join("secret");
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(mode(&env.data()), 0o700);
    let first = fs::read_to_string(&secret).unwrap();
    assert_eq!(first.trim().len(), 43, "32 bytes as base64url");
    let kid2 = env.json(&["keys", "rotate", "--json"])["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!kid1.trim().is_empty());
    assert_ne!(kid1.trim(), kid2);
    assert_eq!(fs::read_to_string(&secret).unwrap(), first);
}

#[test]
fn secret_from_env_writes_no_file() {
    let env = Env::new();
    let out = env
        .cmd(&["keys", "rotate"])
        .env(
            "TCAUTH_SECRET",
            "a passphrase of more than thirty-two characters",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!env.data().join("secret").exists());
    let out = env
        .cmd(&["keys", "rotate"])
        .env("TCAUTH_SECRET", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("too short"));
}

#[test]
fn config_example_parses_and_is_accepted() {
    let env = Env::new();
    let out = bare(env.path(), &["config", "example"]).output().unwrap();
    assert!(out.status.success());
    let example = text(&out.stdout);
    let table: toml::Table = toml::from_str(&example).unwrap();
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(table["rate_limit"]["burst"].as_integer(), Some(200));
    // as ./tcauth.toml, with the data dir it names
    env.write("tcauth.toml", &example);
    let out = bare(env.path(), &["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(env.path().join("tcauth-data/tcauth.db").exists());

    let bad = env.write(
        "bad.toml",
        "listen = \"127.0.0.1:8080\"\nsweep_intervall = 5\n",
    );
    let err = env.fails(&["migrate", "--config", &bad], 2);
    assert!(err.contains("sweep_intervall"), "{err}");
    let err = env.fails(&["migrate", "--config", "nope.toml"], 2);
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn help_explains_commands() {
    let env = Env::new();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["user", "import", "--help"],
    ] {
        let out = bare(env.path(), args).output().unwrap();
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("Example"), "{args:?}");
    }
}

#[tokio::test]
async fn serve_answers_healthz_and_stops_on_sigterm() {
    let env = Env::new();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = fs::File::create(env.path().join("serve.log")).unwrap();
    let mut child = env
        .cmd(&["serve", "--listen", &listen])
        .env("TCAUTH_REDIS_URL", "redis://127.0.0.1:1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let log = || fs::read_to_string(env.path().join("serve.log")).unwrap_or_default();
    let http = reqwest::Client::new();
    let up = ready::wait_ready_or(
        &http,
        &format!("http://{listen}/healthz"),
        Duration::from_secs(10),
        || {
            let status = child.try_wait().unwrap()?;
            Some(format!("serve exited with {status}"))
        },
    )
    .await;
    if let Err(e) = up {
        let _ = child.kill();
        panic!("{e}: {}", log());
    }
    let disco: Value = http
        .get(format!("http://{listen}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], format!("http://{listen}"));
    assert_eq!(mode(&env.data().join("secret")), 0o600);

    // graceful shutdown on SIGTERM
    let graceful = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if !graceful {
        // no kill(1) here: stop it the hard way and skip the graceful-exit check
        let _ = child.kill();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop within 10 s of SIGTERM: {}", log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!graceful || status.success(), "{status}: {}", log());
    let log = log();
    assert!(
        log.contains(&format!("listening on http://{listen}")),
        "{log}"
    );
    assert!(log.contains("Redis"), "{log}");
}

#[test]
fn client_brand_sets_validates_and_resets_the_consent_branding() {
    let env = Env::new();
    let c = env.json(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap().to_string();
    let branded = env.json(&[
        "client",
        "brand",
        &id,
        "--heading",
        "sign_up_with",
        "--button-text",
        "continue",
        "--button-color",
        "#0B6E4F",
        "--button-shape",
        "rectangle",
        "--privacy-url",
        "https://shop.example/privacy",
        "--terms-url",
        "https://shop.example/terms",
        "--json",
    ]);
    assert_eq!(
        branded["branding"],
        serde_json::json!({"heading":"sign_up_with","button_text":"continue",
            "button_color":"#0b6e4f","button_shape":"rectangle",
            "privacy_url":"https://shop.example/privacy","terms_url":"https://shop.example/terms"})
    );
    assert_eq!(
        env.json(&["client", "show", &id, "--json"])["branding"],
        branded["branding"]
    );

    let err = env.fails(&["client", "brand", &id, "--button-color", "red"], 2);
    assert!(
        err.contains("--button-color: must be a hex colour"),
        "{err}"
    );
    let err = env.fails(
        &[
            "client",
            "brand",
            &id,
            "--terms-url",
            "http://shop.example/t",
        ],
        2,
    );
    assert!(err.contains("--terms-url: must be an https URL"), "{err}");
    // A refused change leaves the branding as it was.
    assert_eq!(
        env.json(&["client", "show", &id, "--json"])["branding"],
        branded["branding"]
    );

    let reset = env.json(&["client", "brand", &id, "--reset", "--json"]);
    assert_eq!(reset["branding"], Value::Null);
    env.fails(&["client", "brand", "no-such-client", "--reset"], 1);
}
