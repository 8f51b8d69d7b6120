//! `--database-url postgres://…`: the shared secret it requires, and (with
//! `TCAUTH_TEST_DATABASE_URL`, which `.ci/run` sets) migrate and clients on a fresh schema.

use super::{bare, text, Env};
use tcauth_testkit::gate;
use tcauth_testkit::psql::psql;

/// A URL nobody answers at, with a password that must never be echoed.
const DEAD_PG: &str = "postgres://tcauth:pw-never-shown@127.0.0.1:1/tcauth";

#[test]
fn postgres_needs_a_secret_every_node_shares() {
    let env = Env::new();
    for args in [&["serve"][..], &["keys", "rotate"]] {
        let mut all = args.to_vec();
        all.extend(["--database-url", DEAD_PG]);
        let err = env.fails(&all, 2);
        for needle in ["TCAUTH_SECRET", "all nodes", "openssl rand -base64 32"] {
            assert!(err.contains(needle), "{args:?}: no {needle:?} in {err}");
        }
        assert!(!err.contains("pw-never-shown"), "{err}");
    }
    // The same through the environment; no secret file is ever generated in this mode.
    let out = env
        .cmd(&["serve"])
        .env("TCAUTH_DATABASE_URL", DEAD_PG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!env.data().exists(), "no data dir, no secret file");
    // With a secret, the command gets as far as the database, and says which one (without
    // its password).
    let out = env
        .cmd(&["keys", "rotate", "--database-url", DEAD_PG])
        .env(
            "TCAUTH_SECRET",
            "a passphrase of more than thirty-two characters",
        )
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("postgres://tcauth@127.0.0.1:1/tcauth"),
        "{err}"
    );
    assert!(!err.contains("pw-never-shown"), "{err}");
    assert!(!env.data().exists(), "no data dir, no secret file");
}

/// A fresh schema in the test database, dropped at the end.
pub(super) struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    pub(super) fn create(admin_url: &str) -> Schema {
        let name = format!("tcauth_cli_{}", tcauth_core::secret::new_id());
        psql(admin_url, &format!("CREATE SCHEMA {name}"));
        Schema {
            admin_url: admin_url.to_string(),
            name,
        }
    }

    /// The test database's URL with `search_path` set to this schema.
    pub(super) fn url(&self) -> String {
        let sep = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin_url, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// The test database's URL, or `None` after a loud SKIPPED line.
fn test_database(test: &str) -> Option<String> {
    gate::env_or_skip(
        &gate::TEST_DATABASE_URL,
        &format!("the CLI PostgreSQL test {test}"),
    )
}

#[test]
fn migrate_and_clients_on_postgres() {
    let Some(admin_url) = test_database("migrate_and_clients_on_postgres") else {
        return;
    };
    let schema = Schema::create(&admin_url);
    let url = schema.url();
    let env = Env::new();
    let run = |args: &[&str]| {
        let out = bare(env.path(), args)
            .env("TCAUTH_DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        serde_json::from_str::<serde_json::Value>(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    };
    let v = run(&["migrate", "--json"]);
    assert_eq!(v["previous_version"], 0, "{v}");
    let version = v["version"].as_u64().unwrap();
    assert!(version >= 1, "{v}");
    assert!(
        v["database"].as_str().unwrap().starts_with("postgres"),
        "{v}"
    );
    let again = run(&["migrate", "--json"]);
    assert_eq!(again["previous_version"], version);
    assert_eq!(again["version"], version);

    let c = run(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid phone",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap();
    let list = run(&["client", "list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id], "{list}");
    assert!(
        !env.path().join("tcauth-data").exists(),
        "no SQLite, no data dir"
    );
}

/// `client create|update` with the §9–§10 fields on PostgreSQL: the callback secret needs
/// the shared server secret (a usage error without it, nothing written), and is the same
/// whichever process derives it from the same secret.
#[test]
fn client_update_on_postgres() {
    let Some(admin_url) = test_database("client_update_on_postgres") else {
        return;
    };
    let schema = Schema::create(&admin_url);
    let url = schema.url();
    let env = Env::new();
    const SECRET: &str = "a passphrase of more than thirty-two characters";
    let run = |args: &[&str], secret: bool| {
        let mut c = bare(env.path(), args);
        c.env("TCAUTH_DATABASE_URL", &url);
        if secret {
            c.env("TCAUTH_SECRET", SECRET);
        }
        c.output().unwrap()
    };
    let json = |args: &[&str]| {
        let out = run(args, true);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_str::<serde_json::Value>(&text(&out.stdout)).unwrap()
    };
    json(&["migrate", "--json"]);
    let c = json(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid",
        "--package-name",
        "com.example.shop",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap();
    assert_eq!(c["package_name"], "com.example.shop");
    assert!(c.get("callback_secret").is_none(), "{c}");
    // Without the shared secret the callback secret cannot be made: refused, nothing written.
    let out = run(
        &[
            "client",
            "update",
            id,
            "--callback-url",
            "https://shop.example/tc",
        ],
        false,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TCAUTH_SECRET"));
    let shown = json(&["client", "show", id, "--json"]);
    assert_eq!(shown, c);
    let u = json(&[
        "client",
        "update",
        id,
        "--callback-url",
        "https://shop.example/tc",
        "--no-package-name",
        "--json",
    ]);
    let secret = u["callback_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert_eq!(u["callback_url"], "https://shop.example/tc");
    assert!(u.get("package_name").is_none(), "{u}");
    let mut want = u.clone();
    want.as_object_mut().unwrap().remove("callback_secret");
    assert_eq!(json(&["client", "show", id, "--json"]), want);
    let out = run(&["client", "update", id, "--package-name", "nope"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: package_name: "));
}

/// `user show <phone>` and `user list` (paged) on PostgreSQL, as on SQLite.
#[test]
fn user_show_and_list_on_postgres() {
    let Some(admin_url) = test_database("user_show_and_list_on_postgres") else {
        return;
    };
    let schema = Schema::create(&admin_url);
    let url = schema.url();
    let env = Env::new();
    let json = |args: &[&str]| {
        let out = bare(env.path(), args)
            .env("TCAUTH_DATABASE_URL", &url)
            .env(
                "TCAUTH_SECRET",
                "a passphrase of more than thirty-two characters",
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_str::<serde_json::Value>(&text(&out.stdout)).unwrap()
    };
    json(&["migrate", "--json"]);
    let mut users: Vec<serde_json::Value> = ["+919876543210", "+919876543211", "+919876543212"]
        .iter()
        .map(|p| json(&["user", "add", "--phone", p, "--json"]))
        .collect();
    users.sort_by_key(|u| u["sub"].as_str().unwrap().parse::<i64>().unwrap());
    assert_eq!(
        json(&["user", "show", "+91 98765 43211", "--json"])["phone_number"],
        "+919876543211"
    );
    let first = json(&["user", "list", "--limit", "2", "--json"]);
    assert_eq!(
        first,
        serde_json::json!({"users": users[0..2], "next": users[1]["sub"]})
    );
    let next = first["next"].as_str().unwrap();
    assert_eq!(
        json(&["user", "list", "--limit", "2", "--after", next, "--json"]),
        serde_json::json!({"users": users[2..3], "next": null})
    );
}
