//! Test mode through the admin API (CONTRACT.md §11, §7): a client's `mode`, `POST …/live`,
//! and the test numbers' `POST`/`GET`/`DELETE …/test-numbers`.

use crate::common::*;
use serde_json::{json, Value};

fn base() -> Value {
    json!({"name": "Shop", "redirect_uris": [REDIRECT_URI], "scopes": ["openid", "phone"],
        "grant_types": ["authorization_code"]})
}

fn test_client() -> Value {
    let mut v = base();
    v["mode"] = json!("test");
    v
}

fn no_client() -> Value {
    json!({"error":"not_found","error_description":"No such client"})
}

async fn call(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (st, h, v) = json_of(s.admin(method, path, body).await).await;
    if st != 204 {
        assert_json_content_type(&h);
    }
    (st, v)
}

#[tokio::test]
async fn clients_are_live_unless_created_in_test_mode_and_every_view_shows_it() {
    let s = TestServer::start().await;
    let live = s.create_client_json(base()).await;
    assert_eq!(live["mode"], "live", "{live}");
    let test = s.create_client_json(test_client()).await;
    assert_eq!(test["mode"], "test", "{test}");
    let explicit = s
        .create_client_json({
            let mut v = base();
            v["mode"] = json!("live");
            v
        })
        .await;
    assert_eq!(explicit["mode"], "live");

    let id = test["client_id"].as_str().unwrap();
    let (st, shown) = call(&s, "GET", &format!("/admin/v1/clients/{id}"), None).await;
    assert_eq!((st, &shown["mode"]), (200, &json!("test")));
    let (_, list) = call(&s, "GET", "/admin/v1/clients", None).await;
    // Listed by creation time then id: these three may share a second, so look each up.
    let mode_of = |c: &Value| {
        let found = list["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["client_id"] == c["client_id"]);
        found.unwrap()["mode"].as_str().unwrap().to_string()
    };
    assert_eq!(
        [mode_of(&live), mode_of(&test), mode_of(&explicit)],
        ["live", "test", "live"]
    );

    for bad in [json!("prod"), json!(1), json!(""), json!("TEST")] {
        let mut v = base();
        v["mode"] = bad.clone();
        let (st, e) = call(&s, "POST", "/admin/v1/clients", Some(v)).await;
        assert_eq!(
            (st, e["error"].as_str(), e["field"].as_str()),
            (400, Some("invalid_request"), Some("mode")),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
async fn live_moves_a_test_client_once_and_nothing_moves_it_back() {
    let s = TestServer::start().await;
    let test = s.create_client_json(test_client()).await;
    let id = test["client_id"].as_str().unwrap();

    // PATCH cannot name the mode, either way.
    for m in ["live", "test"] {
        let (st, e) = call(
            &s,
            "PATCH",
            &format!("/admin/v1/clients/{id}"),
            Some(json!({"mode": m})),
        )
        .await;
        assert_eq!((st, e["field"].as_str()), (400, Some("mode")), "{e}");
    }
    let (_, still) = call(&s, "GET", &format!("/admin/v1/clients/{id}"), None).await;
    assert_eq!(still, test);

    let (st, v) = call(&s, "POST", &format!("/admin/v1/clients/{id}/live"), None).await;
    assert_eq!(st, 200, "{v}");
    let mut expected = test.clone();
    expected["mode"] = json!("live");
    assert_eq!(v, expected);
    // Already live: 200, unchanged.
    let (st, again) = call(&s, "POST", &format!("/admin/v1/clients/{id}/live"), None).await;
    assert_eq!((st, &again), (200, &expected));
    let live = s.create_client_json(base()).await;
    let lid = live["client_id"].as_str().unwrap();
    let (st, v) = call(&s, "POST", &format!("/admin/v1/clients/{lid}/live"), None).await;
    assert_eq!((st, v), (200, live));

    assert_json_error(
        s.admin("POST", "/admin/v1/clients/nobody/live", None).await,
        404,
        no_client(),
    )
    .await;
    // The admin guard holds.
    let r = s
        .http
        .post(s.url(&format!("/admin/v1/clients/{id}/live")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn test_numbers_are_added_listed_and_removed() {
    let s = TestServer::start().await;
    let test = s.create_client_json(test_client()).await;
    let id = test["client_id"].as_str().unwrap();
    let path = format!("/admin/v1/clients/{id}/test-numbers");

    let (st, v) = call(&s, "GET", &path, None).await;
    assert_eq!((st, v), (200, json!({"test_numbers": []})));

    let (st, a) = call(
        &s,
        "POST",
        &path,
        Some(json!({"phone_number": "+919876543210", "otp": "123456"})),
    )
    .await;
    assert_eq!(st, 201, "{a}");
    assert_eq!(
        (&a["phone_number"], &a["otp"]),
        (&json!("+919876543210"), &json!("123456"))
    );
    assert!(a["created_at"].is_i64());
    // Normalised to E.164; the code defaults to 000000.
    let (st, b) = call(
        &s,
        "POST",
        &path,
        Some(json!({"phone_number": "+1 (415) 555-0100"})),
    )
    .await;
    assert_eq!(
        (st, &b["phone_number"], &b["otp"]),
        (201, &json!("+14155550100"), &json!("000000")),
        "{b}"
    );

    let (st, list) = call(&s, "GET", &path, None).await;
    assert_eq!((st, list), (200, json!({"test_numbers": [b, a]})));

    // Again: the new code, still one entry.
    let (st, a2) = call(
        &s,
        "POST",
        &path,
        Some(json!({"phone_number": "+919876543210", "otp": "654321"})),
    )
    .await;
    assert_eq!((st, &a2["otp"]), (201, &json!("654321")));
    let (_, list) = call(&s, "GET", &path, None).await;
    assert_eq!(list["test_numbers"].as_array().unwrap().len(), 2);

    let r = s
        .admin("DELETE", &format!("{path}/+14155550100"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_json_error(
        s.admin("DELETE", &format!("{path}/%2B14155550100"), None)
            .await,
        404,
        json!({"error":"not_found","error_description":"No such test number"}),
    )
    .await;
    let (_, list) = call(&s, "GET", &path, None).await;
    assert_eq!(list, json!({"test_numbers": [a2]}));
    let (st, e) = call(&s, "DELETE", &format!("{path}/notanumber"), None).await;
    assert_eq!(
        (st, e["field"].as_str()),
        (400, Some("phone_number")),
        "{e}"
    );

    // An unknown client.
    let none = "/admin/v1/clients/nobody/test-numbers";
    assert_json_error(s.admin("GET", none, None).await, 404, no_client()).await;
    assert_json_error(
        s.admin("POST", none, Some(json!({"phone_number": "+919876543210"})))
            .await,
        404,
        no_client(),
    )
    .await;
    assert_json_error(
        s.admin("DELETE", &format!("{none}/+919876543210"), None)
            .await,
        404,
        no_client(),
    )
    .await;

    // Deleting the client takes its numbers with it.
    assert_eq!(
        s.admin("DELETE", &format!("/admin/v1/clients/{id}"), None)
            .await
            .status(),
        204
    );
    assert!(s.store.list_test_numbers(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_test_numbers_are_400s_naming_the_field_and_write_nothing() {
    let s = TestServer::start().await;
    let test = s.create_client_json(test_client()).await;
    let id = test["client_id"].as_str().unwrap();
    let path = format!("/admin/v1/clients/{id}/test-numbers");
    for (body, field) in [
        (
            json!({"phone_number": "+919876543210", "otp": "12345"}),
            "otp",
        ),
        (
            json!({"phone_number": "+919876543210", "otp": "1234567"}),
            "otp",
        ),
        (
            json!({"phone_number": "+919876543210", "otp": "12a456"}),
            "otp",
        ),
        (
            json!({"phone_number": "+919876543210", "otp": 123456}),
            "otp",
        ),
        (
            json!({"phone_number": "+919876543210", "otp": "１２３４５６"}),
            "otp",
        ),
        (json!({"phone_number": "12"}), "phone_number"),
        (json!({"phone_number": 919876543210_i64}), "phone_number"),
        (json!({"otp": "123456"}), "phone_number"),
        (
            json!({"phone_number": "+919876543210", "code": "1"}),
            "code",
        ),
        (json!(["+919876543210"]), "body"),
    ] {
        let (st, e) = call(&s, "POST", &path, Some(body.clone())).await;
        assert_eq!(
            (st, e["error"].as_str(), e["field"].as_str()),
            (400, Some("invalid_request"), Some(field)),
            "{body}: {e}"
        );
    }
    let r = s
        .http
        .post(s.url(&path))
        .bearer_auth(&s.admin_token)
        .header("content-type", "application/json")
        .body("{\"phone_number\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, list) = call(&s, "GET", &path, None).await;
    assert_eq!(list, json!({"test_numbers": []}));
    // The guard holds.
    let r = s.http.get(s.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
