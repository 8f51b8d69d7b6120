//! `tcauth client create --mode test`, `tcauth client live`, `tcauth client test-number
//! add|list|remove` (CONTRACT.md §11): the same records and JSON as the admin API.

use super::*;
use serde_json::json;

fn create(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--scope",
        "openid phone",
        "--json",
    ];
    args.extend_from_slice(extra);
    env.json(&args)
}

#[test]
fn modes_are_shown_and_live_moves_a_test_client_once() {
    let env = Env::new();
    let live = create(&env, &[]);
    assert_eq!(live["mode"], "live");
    let test = create(&env, &["--mode", "test"]);
    assert_eq!(test["mode"], "test");
    let id = test["client_id"].as_str().unwrap().to_string();
    assert_eq!(env.json(&["client", "show", &id, "--json"]), test);
    let listed = env.json(&["client", "list", "--json"]);
    let mode_of = |cid: &Value| {
        let c = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == *cid);
        c.unwrap()["mode"].clone()
    };
    assert_eq!(
        (mode_of(&live["client_id"]), mode_of(&test["client_id"])),
        (json!("live"), json!("test"))
    );
    assert!(env
        .ok(&["client", "show", &id])
        .contains("mode:          test\n"));
    let list = env.ok(&["client", "list"]);
    assert!(list.lines().next().unwrap().contains("MODE"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with(id.as_str()) && l.contains("  test  ")),
        "{list}"
    );

    let err = env.fails(
        &[
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "https://x.example/cb",
            "--scope",
            "openid",
            "--mode",
            "prod",
        ],
        2,
    );
    assert!(err.contains("mode"), "{err}");

    let mut want = test.clone();
    want["mode"] = json!("live");
    assert_eq!(env.json(&["client", "live", &id, "--json"]), want);
    // Already live: unchanged.
    assert_eq!(env.json(&["client", "live", &id, "--json"]), want);
    assert!(env
        .ok(&["client", "live", &id])
        .contains("mode:          live\n"));
    let err = env.fails(&["client", "live", "nobody"], 1);
    assert!(err.contains("no client with id \"nobody\""), "{err}");
}

#[test]
fn test_numbers_are_added_listed_and_removed() {
    let env = Env::new();
    let test = create(&env, &["--mode", "test"]);
    let id = test["client_id"].as_str().unwrap().to_string();

    assert_eq!(
        env.json(&["client", "test-number", "list", &id, "--json"]),
        json!({"test_numbers": []})
    );
    let a = env.json(&[
        "client",
        "test-number",
        "add",
        &id,
        "+91 98765 43210",
        "--otp",
        "123456",
        "--json",
    ]);
    assert_eq!(
        (&a["phone_number"], &a["otp"]),
        (&json!("+919876543210"), &json!("123456"))
    );
    let b = env.json(&[
        "client",
        "test-number",
        "add",
        &id,
        "+14155550100",
        "--json",
    ]);
    assert_eq!(b["otp"], "000000");
    assert_eq!(
        env.json(&["client", "test-number", "list", &id, "--json"]),
        json!({"test_numbers": [b, a]})
    );
    let text = env.ok(&["client", "test-number", "list", &id]);
    assert!(
        text.contains("+919876543210") && text.contains("123456"),
        "{text}"
    );

    for (args, needle) in [
        (
            vec![
                "client",
                "test-number",
                "add",
                &id,
                "+919876543210",
                "--otp",
                "12345",
            ],
            "otp: ",
        ),
        (
            vec![
                "client",
                "test-number",
                "add",
                &id,
                "+919876543210",
                "--otp",
                "abcdef",
            ],
            "otp: ",
        ),
        (
            vec!["client", "test-number", "add", &id, "12"],
            "phone_number: ",
        ),
    ] {
        let err = env.fails(&args, 2);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let err = env.fails(
        &["client", "test-number", "add", "nobody", "+919876543210"],
        1,
    );
    assert!(err.contains("no client with id"), "{err}");

    assert_eq!(
        env.json(&[
            "client",
            "test-number",
            "remove",
            &id,
            "+14155550100",
            "--json"
        ]),
        json!({"client_id": id, "phone_number": "+14155550100", "removed": true})
    );
    let err = env.fails(&["client", "test-number", "remove", &id, "+14155550100"], 1);
    assert!(err.contains("no test number +14155550100"), "{err}");
    assert_eq!(
        env.json(&["client", "test-number", "list", &id, "--json"]),
        json!({"test_numbers": [a]})
    );
}
