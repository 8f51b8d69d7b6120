//! `tcauth user show <sub|phone>` and `tcauth user list` (paged).

use super::{text, Env};
use serde_json::{json, Value};

fn add(env: &Env, phone: &str, name: &str) -> Value {
    env.json(&[
        "user",
        "add",
        "--phone",
        phone,
        "--given-name",
        name,
        "--json",
    ])
}

#[test]
fn user_show_finds_a_user_by_sub_or_by_phone_number() {
    let env = Env::new();
    let u = add(&env, "+919876543210", "Asha");
    let sub = u["sub"].as_str().unwrap();
    let by_sub = env.json(&["user", "show", sub, "--json"]);
    assert_eq!(by_sub, u);
    for phone in ["+919876543210", "+91 98765 43210", "00919876543210"] {
        assert_eq!(env.json(&["user", "show", phone, "--json"]), u, "{phone}");
    }
    let shown = env.ok(&["user", "show", "+919876543210"]);
    assert!(shown.contains(&format!("sub:          {sub}\n")), "{shown}");

    // An unknown number: exit 1 naming it; a malformed one: exit 2.
    let err = env.fails(&["user", "show", "+14155550123"], 1);
    assert!(
        err.contains("no user with phone number +14155550123"),
        "{err}"
    );
    let err = env.fails(&["user", "show", "12"], 1);
    assert!(err.contains("no user with sub 12"), "{err}");
    let err = env.fails(&["user", "show", "+12"], 2);
    assert!(err.contains("neither a sub nor a phone number"), "{err}");
}

#[test]
fn user_list_pages_through_every_user_in_sub_order() {
    let env = Env::new();
    assert_eq!(
        env.json(&["user", "list", "--json"]),
        json!({"users": [], "next": null})
    );
    let out = env.run(&["user", "list"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("no users yet"));

    let mut users: Vec<Value> = ["+919876543210", "+919876543211", "+919876543212"]
        .iter()
        .zip(["Asha", "Ravi", "Meera"])
        .map(|(p, n)| add(&env, p, n))
        .collect();
    users.sort_by_key(|u| u["sub"].as_str().unwrap().parse::<i64>().unwrap());
    let sub = |i: usize| users[i]["sub"].as_str().unwrap().to_string();

    assert_eq!(
        env.json(&["user", "list", "--json"]),
        json!({"users": users, "next": null})
    );
    assert_eq!(
        env.json(&["user", "list", "--limit", "2", "--json"]),
        json!({"users": users[0..2], "next": sub(1)})
    );
    assert_eq!(
        env.json(&["user", "list", "--limit", "2", "--after", &sub(1), "--json"]),
        json!({"users": users[2..3], "next": null})
    );
    assert_eq!(
        env.json(&["user", "list", "--after", &sub(2), "--json"]),
        json!({"users": [], "next": null})
    );

    // Text: a header, a line per user, and the command for the next page.
    let page = env.ok(&["user", "list", "--limit", "2"]);
    let lines: Vec<&str> = page.lines().collect();
    assert_eq!(lines.len(), 4, "{page}");
    assert!(lines[0].starts_with("SUB "), "{page}");
    assert!(lines[1].starts_with(&sub(0)), "{page}");
    assert!(lines[2].starts_with(&sub(1)), "{page}");
    assert_eq!(
        lines[3],
        format!("more: tcauth user list --limit 2 --after {}", sub(1))
    );
    let last = env.ok(&["user", "list", "--limit", "2", "--after", &sub(1)]);
    assert_eq!(last.lines().count(), 2, "{last}");
    assert!(!last.contains("more:"), "{last}");

    // Bad arguments are usage errors (exit 2).
    env.fails(&["user", "list", "--limit", "0"], 2);
    env.fails(&["user", "list", "--limit", "1001"], 2);
    env.fails(&["user", "list", "--after", "abc"], 2);
}
