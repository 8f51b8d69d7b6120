//! grant_type=refresh_token: CONTRACT.md §1 (refresh rules); checklist R1–R8.

use crate::common::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const SCOPES: &[&str] = &["openid", "profile", "phone", "offline_access"];

struct Family {
    client: String,
    sub: String,
    first: Value,
}

async fn family(s: &TestServer) -> Family {
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let first = s.tokens(&client, &sub, SCOPES).await;
    Family { client, sub, first }
}

fn rt(v: &Value) -> String {
    v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string()
}
fn at(v: &Value) -> String {
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let (r, h, second) = json_of(s.refresh(&f.client, &rt(&f.first), None).await).await;
    assert_eq!(r, 200, "{second}");
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    assert_eq!(header(&h, "pragma"), Some("no-cache"));
    assert_json_content_type(&h);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["expires_in"], 3600);
    assert_eq!(second["scope"], "openid profile phone offline_access");
    assert!(
        second["id_token"].is_string(),
        "id_token on refresh too: {second}"
    );
    assert_ne!(rt(&second), rt(&f.first));
    assert_ne!(at(&second), at(&f.first));
    assert_strong_secret("rotated refresh token", &rt(&second));
    let third = s.refresh_ok(&f.client, &rt(&second)).await;
    assert_ne!(rt(&third), rt(&second));
    assert_eq!(s.userinfo_status(&at(&third)).await, 200);
}

#[tokio::test]
async fn reusing_a_retired_refresh_token_revokes_the_family() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let second = s.refresh_ok(&f.client, &rt(&f.first)).await;
    assert_json_error(
        s.refresh(&f.client, &rt(&f.first), None).await,
        403,
        e_invalid_refresh(),
    )
    .await;
    // The successor is dead too, and so are the access tokens.
    assert_json_error(
        s.refresh(&f.client, &rt(&second), None).await,
        403,
        e_invalid_refresh(),
    )
    .await;
    for a in [at(&f.first), at(&second)] {
        assert_json_error(s.userinfo(&a).await, 401, e_invalid_token()).await;
    }
}

#[tokio::test]
async fn narrowing_scope_keeps_the_original_grant_on_the_refresh_token() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let (st, _, narrow) = json_of(
        s.refresh(
            &f.client,
            &rt(&f.first),
            Some("phone openid offline_access"),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{narrow}");
    assert_eq!(narrow["scope"], "openid phone offline_access");
    let (st, _, info) = json_of(s.userinfo(&at(&narrow)).await).await;
    assert_eq!(st, 200);
    assert!(
        info.get("given_name").is_none(),
        "profile was dropped: {info}"
    );
    assert_eq!(info["phone_number"], "919876543210");
    // The new refresh token still carries the original scope.
    let back = s.refresh_ok(&f.client, &rt(&narrow)).await;
    assert_eq!(back["scope"], "openid profile phone offline_access");
    let (_, _, info) = json_of(s.userinfo(&at(&back)).await).await;
    assert_eq!(info["given_name"], "Asha");
    // Narrowing to a scope without openid: no id_token, and userinfo says 422.
    let (st, _, phone_only) = json_of(s.refresh(&f.client, &rt(&back), Some("phone")).await).await;
    assert_eq!(st, 200, "{phone_only}");
    assert_eq!(phone_only["scope"], "phone");
    assert!(phone_only.get("id_token").is_none(), "{phone_only}");
    assert_json_error(s.userinfo(&at(&phone_only)).await, 422, e_no_openid()).await;
}

#[tokio::test]
async fn widening_or_unknown_scope_is_invalid_scope() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let token = rt(&v);
    for wide in [
        "openid profile phone offline_access",
        "openid email",
        "openid phone admin",
        "OPENID",
    ] {
        let r = s.refresh(&client, &token, Some(wide)).await;
        assert_json_error(r, 400, e_invalid_scope()).await;
    }
    // Checked only after the token is found valid: an unknown token is row 11.
    let r = s.refresh(&client, "garbage", Some("openid email")).await;
    assert_json_error(r, 403, e_invalid_refresh()).await;
}

#[tokio::test]
async fn refresh_token_of_another_client_is_access_denied() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let thief = s.full_client().await;
    assert_json_error(
        s.refresh(&thief, &rt(&f.first), None).await,
        403,
        e_access_denied(),
    )
    .await;
    // The rightful client is not hurt by the attempt.
    s.refresh_ok(&f.client, &rt(&f.first)).await;
}

#[tokio::test]
async fn refresh_grant_not_enabled_is_bare_invalid_grant() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let no_refresh = s
        .create_client(
            &["openid", "phone", "offline_access"],
            &["authorization_code"],
        )
        .await;
    // Row 9 comes before row 10: the token is another client's, but the grant is refused first.
    let r = s.refresh(&no_refresh, &rt(&f.first), None).await;
    assert_json_error(r, 403, e_grant_not_allowed()).await;
}

#[tokio::test]
async fn unknown_refresh_token_and_blocked_user() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    for t in ["unknown", &random_verifier(), &at(&f.first)] {
        assert_json_error(
            s.refresh(&f.client, t, None).await,
            403,
            e_invalid_refresh(),
        )
        .await;
    }
    let r = s
        .admin("POST", &format!("/admin/v1/users/{}/block", f.sub), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_json_error(
        s.refresh(&f.client, &rt(&f.first), None).await,
        403,
        e_access_denied(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_one_refresh_token_yield_exactly_one_200() {
    const RACERS: usize = 20;
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let first = s.tokens(&client, &sub, &["phone", "offline_access"]).await;
    let token = rt(&first);
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let (http, url, barrier) = (s.http.clone(), s.url("/v1/token"), barrier.clone());
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", client.clone()),
            ("refresh_token", token.clone()),
        ];
        set.spawn(async move {
            barrier.wait().await;
            let r = http.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = set.join_next().await {
        let (st, body) = r.unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        match st {
            200 => winners.push(v),
            403 => assert_eq!(v, e_invalid_refresh()),
            _ => panic!("unexpected {st} {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one 200: {winners:?}");
    // Strict rotation: the concurrent second use revoked the whole family, the winner's too.
    let w = &winners[0];
    assert_json_error(
        s.refresh(&client, &rt(w), None).await,
        403,
        e_invalid_refresh(),
    )
    .await;
    assert_json_error(s.userinfo(&at(w)).await, 401, e_invalid_token()).await;
}

#[tokio::test]
async fn refresh_family_has_an_absolute_lifetime() {
    let s = TestServer::start_with(|st| st.refresh_token_ttl = Duration::from_secs(3)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let first = s.tokens(&client, &sub, &["phone", "offline_access"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = s.refresh_ok(&client, &rt(&first)).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    // 3.5 s after the family began: rotation did not extend its life.
    assert_json_error(
        s.refresh(&client, &rt(&second), None).await,
        403,
        e_invalid_refresh(),
    )
    .await;
}
