//! `GET /admin/v1/users`: a user found by phone number, and the paged list of users
//! (docs/API.md §7).

use crate::common::*;
use serde_json::{json, Value};

/// The exact user view `POST /admin/v1/users` answered, read again at `GET …/users/{sub}`.
async fn show(s: &TestServer, sub: &str) -> Value {
    let (st, _, v) = json_of(
        s.admin("GET", &format!("/admin/v1/users/{sub}"), None)
            .await,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

#[tokio::test]
async fn a_user_is_found_by_phone_number_in_any_spelling() {
    let s = TestServer::start().await;
    let created = s.create_user_json(full_profile(PHONE)).await;
    let sub = created["sub"].as_str().unwrap();
    let want = show(&s, sub).await;
    assert_eq!(want, created);
    // A literal `+` (as typed in a shell), `%2B`, spaces and the 00 prefix: normalised as at
    // creation.
    for q in [
        "phone_number=+919876543210",
        "phone_number=%2B919876543210",
        "phone_number=%2B91%2098765%2043210",
        "phone_number=00919876543210",
    ] {
        let r = s.admin("GET", &format!("/admin/v1/users?{q}"), None).await;
        let (st, h, v) = json_of(r).await;
        assert_eq!(st, 200, "{q}: {v}");
        assert_json_content_type(&h);
        assert_eq!(v, want, "{q}");
    }
    assert_eq!(
        want,
        json!({
            "sub": sub,
            "phone_number": "+919876543210",
            "phone_number_country_code": "IN",
            "phone_number_verified": true,
            "status": "active",
            "created_at": want["created_at"],
            "given_name": "Asha",
            "family_name": "Rao",
            "email": "asha@example.com",
            "picture": "https://img.example/asha.png",
            "gender": "female",
            "address": {"locality": "Pune", "postal_code": "411001"},
        })
    );
}

#[tokio::test]
async fn an_unknown_number_is_404_and_a_malformed_one_400() {
    let s = TestServer::start().await;
    s.create_user().await;
    assert_json_error(
        s.admin("GET", "/admin/v1/users?phone_number=+14155550123", None)
            .await,
        404,
        json!({"error":"not_found","error_description":"No user has this phone_number"}),
    )
    .await;
    for bad in ["12", "", "not-a-number", "+91987654321099999"] {
        let r = s
            .admin("GET", &format!("/admin/v1/users?phone_number={bad}"), None)
            .await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert_eq!(v["error"], "invalid_request", "{v}");
        assert_eq!(v["field"], "phone_number", "{v}");
    }
    // Exactly: the body of an unparseable number.
    assert_json_error(
        s.admin("GET", "/admin/v1/users?phone_number=12", None).await,
        400,
        json!({
            "error": "invalid_request",
            "error_description":
                "phone_number: not a phone number; write it in international form, e.g. +919876543210",
            "field": "phone_number",
        }),
    )
    .await;
}

#[tokio::test]
async fn users_are_listed_in_pages_by_sub() {
    let s = TestServer::start().await;
    // Empty store: an empty page, no next.
    let (st, _, v) = json_of(s.admin("GET", "/admin/v1/users", None).await).await;
    assert_eq!((st, v), (200, json!({"users": [], "next": null})));

    let mut subs = Vec::new();
    for _ in 0..5 {
        subs.push(s.create_bare_user().await);
    }
    subs.sort_by_key(|s| s.parse::<i64>().unwrap());
    let mut views = Vec::new();
    for sub in &subs {
        views.push(show(&s, sub).await);
    }

    // Everything in one page (the default limit is 100).
    let (st, _, v) = json_of(s.admin("GET", "/admin/v1/users", None).await).await;
    assert_eq!(st, 200);
    assert_eq!(v, json!({"users": views, "next": null}));

    // Pages of two: the cursor is the last sub of a page; the last page has next null (no
    // empty page after a full one).
    let page = |q: String| {
        let s = &s;
        async move {
            let (st, _, v) =
                json_of(s.admin("GET", &format!("/admin/v1/users?{q}"), None).await).await;
            assert_eq!(st, 200, "{q}: {v}");
            v
        }
    };
    assert_eq!(
        page("limit=2".into()).await,
        json!({"users": views[0..2], "next": subs[1]})
    );
    assert_eq!(
        page(format!("limit=2&after={}", subs[1])).await,
        json!({"users": views[2..4], "next": subs[3]})
    );
    assert_eq!(
        page(format!("after={}&limit=2", subs[3])).await,
        json!({"users": views[4..5], "next": null})
    );
    assert_eq!(
        page(format!("limit=1&after={}", subs[3])).await,
        json!({"users": views[4..5], "next": null})
    );
    assert_eq!(
        page("limit=5".to_string()).await,
        json!({"users": views, "next": null})
    );
    assert_eq!(
        page(format!("after={}", subs[4])).await,
        json!({"users": [], "next": null})
    );
}

#[tokio::test]
async fn list_parameters_are_checked_and_named() {
    let s = TestServer::start().await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("limit=", "limit"),
        ("after=0", "after"),
        ("after=-5", "after"),
        ("after=abc", "after"),
        ("sort=sub", "sort"),
        ("phone_number=+919876543210&limit=2", "limit"),
        ("phone_number=+919876543210&after=5", "after"),
    ] {
        let r = s.admin("GET", &format!("/admin/v1/users?{q}"), None).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 400, "{q}: {v}");
        assert_eq!(v["error"], "invalid_request", "{q}: {v}");
        assert_eq!(v["field"], field, "{q}: {v}");
    }
    assert_json_error(
        s.admin("GET", "/admin/v1/users?limit=0", None).await,
        400,
        json!({
            "error": "invalid_request",
            "error_description": "limit: must be an integer 1–1000",
            "field": "limit",
        }),
    )
    .await;
    // A parameter twice is refused, not one of them silently taken.
    let (st, _, v) = json_of(
        s.admin("GET", "/admin/v1/users?limit=1&limit=2", None)
            .await,
    )
    .await;
    assert_eq!(st, 400, "{v}");
    // Without the admin token: 401, as every admin path.
    let r = s
        .http
        .get(s.url("/admin/v1/users?phone_number=+919876543210"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
