//! Rows 5–10 of the error table: `grant_type` missing or unsupported, required parameters,
//! an unknown or deleted client, a grant the client may not use, another client's code, a
//! blocked or deleted user.

use super::{post_raw, FORM};
use crate::common::*;

// --- rows 5–7 ---------------------------------------------------------------------------

#[tokio::test]
async fn row5_grant_type_missing_or_empty() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for p in [
        vec![
            ("client_id", client.as_str()),
            ("code", "x"),
            ("code_verifier", "y"),
        ],
        vec![
            ("grant_type", ""),
            ("client_id", client.as_str()),
            ("code", "x"),
            ("code_verifier", "y"),
        ],
        // Row 5 comes before row 8.
        vec![("client_id", "unknown-client"), ("code", "x")],
        vec![],
    ] {
        assert_json_error(s.token(&p).await, 400, e_empty()).await;
    }
    let r = post_raw(&s, "/v1/token", Some(FORM), Vec::new()).await;
    assert_json_error(r, 400, e_empty()).await;
}

#[tokio::test]
async fn row6_unsupported_grant_type() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    for g in [
        "password",
        "client_credentials",
        "implicit",
        "AUTHORIZATION_CODE",
        "refresh-token",
    ] {
        let r = s
            .token(&[
                ("grant_type", g),
                ("client_id", &client),
                ("code", "x"),
                ("code_verifier", "y"),
            ])
            .await;
        assert_json_error(r, 400, e_unsupported(g)).await;
    }
    // Row 6 comes before rows 7 and 8.
    let r = s.token(&[("grant_type", "password")]).await;
    assert_json_error(r, 400, e_unsupported("password")).await;
    let r = s
        .token(&[("grant_type", "password"), ("client_id", "unknown-client")])
        .await;
    assert_json_error(r, 400, e_unsupported("password")).await;
}

#[tokio::test]
async fn row6_value_is_cut_to_64_characters_and_json_escaped() {
    let s = TestServer::start().await;
    let long = format!("\"{}\\{}", "x".repeat(60), "y".repeat(39)); // 101 characters
    let r = s.token(&[("grant_type", &long)]).await;
    let cut: String = long.chars().take(64).collect();
    let raw_text = {
        let (st, h, v) = json_of(r).await;
        assert_eq!((st, &v), (400, &e_unsupported(&cut)));
        assert_json_content_type(&h);
        serde_json::to_string(&v).unwrap()
    };
    assert!(raw_text.contains("\\\""), "quote escaped: {raw_text}");
    // Characters, not bytes.
    let wide = "é".repeat(100);
    let r = s.token(&[("grant_type", &wide)]).await;
    assert_json_error(r, 400, e_unsupported(&"é".repeat(64))).await;
}

#[tokio::test]
async fn row6_control_characters_are_json_escaped_not_replaced() {
    // CONTRACT.md §1 row 6: cut to 64 characters, then JSON-escaped. RFC 6749 §5.2 would keep
    // error_description to printable ASCII without `"` and `\`; the contract wins, so the
    // value the client sent reads back exactly from the JSON.
    let s = TestServer::start().await;
    for (sent, body) in [
        (
            "a\r\nb\tc",
            r#"{"error":"unsupported_grant_type","error_description":"Grant type a\r\nb\tc not supported"}"#,
        ),
        (
            "\u{1}x\"\\",
            r#"{"error":"unsupported_grant_type","error_description":"Grant type \u0001x\"\\ not supported"}"#,
        ),
    ] {
        let r = s.token(&[("grant_type", sent)]).await;
        assert_eq!(r.status(), 400);
        let text = r.text().await.unwrap();
        assert_eq!(text, body, "{sent:?}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["error_description"],
            format!("Grant type {sent} not supported")
        );
    }
    // Cut first (64 characters, a newline among them), escaped after: nothing dropped.
    let sent = format!("{}\n{}", "n".repeat(63), "z".repeat(10));
    let r = s.token(&[("grant_type", &sent)]).await;
    let text = r.text().await.unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"error":"unsupported_grant_type","error_description":"Grant type {}\n not supported"}}"#,
            "n".repeat(63)
        )
    );
}

#[tokio::test]
async fn row7_required_parameters_missing_or_empty() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let full = [
        ("grant_type", "authorization_code"),
        ("client_id", client.as_str()),
        ("code", "some-code"),
        ("code_verifier", "some-verifier"),
    ];
    for drop in 1..4 {
        let missing: Vec<_> = full
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, p)| *p)
            .collect();
        assert_json_error(s.token(&missing).await, 400, e_empty()).await;
        let mut empty = full.to_vec();
        empty[drop].1 = "";
        assert_json_error(s.token(&empty).await, 400, e_empty()).await;
    }
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", client.as_str()),
        ("refresh_token", "some-token"),
    ];
    for drop in 1..3 {
        let missing: Vec<_> = refresh
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, p)| *p)
            .collect();
        assert_json_error(s.token(&missing).await, 400, e_empty()).await;
        let mut empty = refresh.to_vec();
        empty[drop].1 = "";
        assert_json_error(s.token(&empty).await, 400, e_empty()).await;
    }
    // Row 7 comes before row 8: unknown client and a missing verifier.
    let r = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "unknown-client"),
            ("code", "x"),
        ])
        .await;
    assert_json_error(r, 400, e_empty()).await;
    let r = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "unknown-client"),
        ])
        .await;
    assert_json_error(r, 400, e_empty()).await;
}

// --- rows 8–10 --------------------------------------------------------------------------

#[tokio::test]
async fn row8_unknown_or_deleted_client() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&client, &sub, &["phone"]).await;
    assert_json_error(
        s.exchange("unknown-client", &code).await,
        403,
        e_invalid_client(),
    )
    .await;
    assert_json_error(
        s.refresh("unknown-client", "whatever", None).await,
        403,
        e_invalid_client(),
    )
    .await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/clients/{client}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(s.exchange(&client, &code).await, 403, e_invalid_client()).await;
}

#[tokio::test]
async fn row9_grant_not_enabled_for_client() {
    let s = TestServer::start().await;
    let client = s
        .create_client(
            &["openid", "phone", "offline_access"],
            &["authorization_code"],
        )
        .await;
    // Row 9 comes before row 11: the token is garbage, but the grant is refused first.
    let r = s.refresh(&client, "garbage", None).await;
    assert_json_error(r, 403, e_grant_not_allowed()).await;
}

#[tokio::test]
async fn row10_code_of_another_client_is_refused_but_not_burnt() {
    let s = TestServer::start().await;
    let a = s.full_client().await;
    let b = s.full_client().await;
    let sub = s.create_user().await;
    let code = s.mint_code(&a, &sub, &["openid", "phone"]).await;
    assert_json_error(s.exchange(&b, &code).await, 403, e_access_denied()).await;
    // Even with a wrong verifier: row 10 comes before row 12 (and burns nothing).
    let wrong = Code {
        verifier: random_verifier(),
        ..code.clone()
    };
    assert_json_error(s.exchange(&b, &wrong).await, 403, e_access_denied()).await;
    s.exchange_ok(&a, &code).await;
}

#[tokio::test]
async fn row10_blocked_or_deleted_user() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let c1 = s.mint_code(&client, &sub, &["phone"]).await;
    let c2 = s.mint_code(&client, &sub, &["phone"]).await;
    let r = s
        .admin("POST", &format!("/admin/v1/users/{sub}/block"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_json_error(s.exchange(&client, &c1).await, 403, e_access_denied()).await;
    let r = s
        .admin("DELETE", &format!("/admin/v1/users/{sub}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(s.exchange(&client, &c2).await, 403, e_access_denied()).await;
}
