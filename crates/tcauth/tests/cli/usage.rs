//! Issue 18, "the first hour": `--json` errors as JSON on stderr, exit codes as `--help` says,
//! `--listen` with the accepted forms, no secret left by a start that fails validation, and a
//! store named by mistake (another directory, a missing folder, no PostgreSQL database).

use super::*;

/// The JSON error object on the last line of stderr.
fn json_error(stderr: &str) -> Value {
    let last = stderr.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"))
}

#[test]
fn help_states_the_exit_codes_the_binary_uses() {
    let env = Env::new();
    let help = text(&bare(env.path(), &["--help"]).output().unwrap().stdout);
    assert!(
        help.contains("Exit status: 0 done, 1 failed, 2 bad command line, configuration or input."),
        "{help}"
    );
    // 2: a bad command line, a missing or bad config file, a bad value.
    env.fails(&["frobnicate"], 2);
    env.fails(&["client", "create"], 2);
    let err = env.fails(&["migrate", "--config", "missing.toml"], 2);
    assert!(
        err.contains("missing.toml") && err.contains("--config"),
        "{err}"
    );
    let bad = env.write("bad.toml", "nonsense = 1\n");
    env.fails(&["migrate", "--config", &bad], 2);
    // 1: the operation failed.
    let err = env.fails(&["client", "show", "no-such-client"], 1);
    assert!(err.starts_with("error: "), "{err}");
    // 0: help and version.
    assert!(bare(env.path(), &["--version"])
        .output()
        .unwrap()
        .status
        .success());
}

#[test]
fn json_errors_are_json_on_stderr_with_the_same_exit_codes() {
    let env = Env::new();
    let missing = env.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    for (args, code) in [
        (&["client", "show", "no-such-client", "--json"][..], 1),
        (&["client", "list", "--json", "--config", missing], 2),
        (&["client", "create", "--json"], 2), // clap: required arguments
        (&["client", "list", "--json", "--bogus"], 2), // clap: unknown flag
        (&["frobnicate", "--json"], 2),
        (
            &[
                "migrate",
                "--json",
                "--database-url",
                "postgres://127.0.0.1:5432",
            ],
            2,
        ),
    ] {
        let out = env.run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let v = json_error(&stderr);
        let kind = if code == 2 { "usage" } else { "failed" };
        assert_eq!(v["error"], kind, "{args:?}: {v}");
        assert_eq!(v["exit_code"], code, "{args:?}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.starts_with("error:"), "{v}");
        let members: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert!(
            members == ["error", "exit_code", "message"]
                || members == ["error", "exit_code", "hint", "message"],
            "{v}"
        );
    }
    let v = json_error(&env.fails(&["client", "list", "--json", "--bogus"], 2));
    assert!(v["message"].as_str().unwrap().contains("--bogus"), "{v}");
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .starts_with("usage: tcauth client list"),
        "{v}"
    );
    let v = json_error(&env.fails(&["client", "list", "--json", "--config", missing], 2));
    assert!(
        v["message"].as_str().unwrap().contains("missing.toml"),
        "{v}"
    );
    assert_eq!(v["hint"], "check --config / TCAUTH_CONFIG", "{v}");
    // Help stays text, exit 0, with --json too.
    let out = env.run(&["client", "list", "--json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage"));
}

#[test]
fn listen_must_be_an_ip_address_and_the_error_shows_the_forms() {
    let env = Env::new();
    for listen in ["localhost:8081", "127.0.0.1", "nonsense"] {
        let err = env.fails(&["serve", "--listen", listen], 2);
        for form in ["127.0.0.1:", "[::1]:", "0.0.0.0:"] {
            assert!(err.contains(form), "{listen}: {err}");
        }
        assert!(!env.data().exists(), "{listen}: nothing created");
    }
    let err = env.fails(&["serve", "--listen", "localhost:8081"], 2);
    assert!(
        err.contains("not resolved") && err.contains("127.0.0.1:8081"),
        "{err}"
    );
    // From the environment and from the config file alike.
    let out = env
        .cmd(&["serve"])
        .env("TCAUTH_LISTEN", "localhost:8081")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("127.0.0.1:8081"));
    let config = env.write("t.toml", "listen = \"localhost:9000\"\n");
    let err = env.fails(&["serve", "--config", &config], 2);
    assert!(
        err.contains("config file: listen") && err.contains("127.0.0.1:9000"),
        "{err}"
    );
}

#[test]
fn a_start_that_fails_validation_leaves_no_generated_secret() {
    let env = Env::new();
    // A webhook URL without its secret: refused by the settings' validation.
    let out = env
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .env("TCAUTH_OTP_WEBHOOK_URL", "https://sms.example/send")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TCAUTH_OTP_WEBHOOK_SECRET"));
    assert!(!env.data().join("secret").exists());
    // Nor does one that cannot listen (the port is taken): exit 1, the secret removed.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let err = env.fails(&["serve", "--listen", &listen], 1);
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(!env.data().join("secret").exists());
    // A secret that was there before is kept.
    env.ok(&["keys", "rotate"]);
    let before = fs::read_to_string(env.data().join("secret")).unwrap();
    let out = env
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .env("TCAUTH_OTP_WEBHOOK_URL", "https://sms.example/send")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        fs::read_to_string(env.data().join("secret")).unwrap(),
        before
    );
}

#[test]
fn a_new_default_store_is_announced_with_what_to_do() {
    let env = Env::new();
    let out = bare(env.path(), &["client", "list"]).output().unwrap();
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: no ./tcauth-data in ")
            && err.contains("--data-dir")
            && err.contains("TCAUTH_DATA_DIR"),
        "{err}"
    );
    // Once it exists, or when a data dir is named, nothing to say.
    let out = bare(env.path(), &["client", "list"]).output().unwrap();
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["client", "list"]);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sqlite_path_with_missing_folders_is_refused() {
    let env = Env::new();
    let missing = env.path().join("no/such/dir");
    let url = format!("sqlite://{}/t.db", missing.display());
    let err = env.fails(&["migrate", "--database-url", &url], 2);
    assert!(
        err.contains("does not exist") && err.contains("mkdir -p"),
        "{err}"
    );
    assert!(!env.path().join("no").exists());
    fs::create_dir_all(&missing).unwrap();
    env.ok(&["migrate", "--database-url", &url]);
}

#[test]
fn postgres_url_without_a_database_is_refused() {
    let env = Env::new();
    for url in ["postgres://127.0.0.1:5432", "postgres://u:pw@127.0.0.1/"] {
        let err = env.fails(&["migrate", "--database-url", url], 2);
        assert!(err.contains("add /DBNAME"), "{url}: {err}");
        assert!(!err.contains("pw"), "{err}");
    }
}
