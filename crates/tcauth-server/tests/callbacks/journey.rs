//! End to end: a client registered through the admin API with a real receiver as its
//! `callback_url`, the dialog answered Continue, and the worker's POST: at once (the page wakes
//! the worker; the poll here is 10 s), signed with the `callback_secret` the admin answer
//! showed, carrying the dialog's token, which reads the profile at `/v1/default`.

use crate::browser::support::Setup;
use crate::browser::web::{nonce, to_dialog, verify_path};
use crate::common;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tcauth_core::model::DeliveryStatus;
use tcauth_testkit::receiver::Receiver;

#[tokio::test]
async fn continue_is_posted_at_once_and_signed_with_the_registered_secret() {
    let rx = Receiver::start(vec![]).await;
    let s = Setup::start(common::REDIRECT_URI, |st| {
        st.callback_poll_interval = Duration::from_secs(10);
    })
    .await;
    let r = s
        .server
        .admin(
            "POST",
            "/admin/v1/clients",
            Some(json!({
                "name": "Acme Web",
                "redirect_uris": [common::REDIRECT_URI],
                "scopes": ["openid", "profile", "phone"],
                "grant_types": ["authorization_code"],
                "callback_url": rx.url("/truecaller/callback"),
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let client_id = v["client_id"].as_str().unwrap().to_string();
    let cb_secret = v["callback_secret"].as_str().unwrap().to_string();
    let app_key = v["app_key"].as_str().unwrap().to_string();
    let s = Setup { client_id, ..s };

    let n = nonce();
    let (mut agent, dialog, _phone) = to_dialog(&s, &verify_path(&app_key, &n, &[])).await;
    assert_eq!(dialog.status, 200, "{}", dialog.body);
    // The worker's first poll ran at its start; the next is 10 s away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answered = Instant::now();
    let done = agent
        .post(
            "/v1/auth/consent",
            &[("csrf", &dialog.csrf()), ("decision", "continue")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    while rx.count() == 0 {
        assert!(
            answered.elapsed() < Duration::from_secs(3),
            "the page did not wake the worker"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = answered.elapsed();
    eprintln!(
        "callback journey: posted {} ms after the answer",
        took.as_millis()
    );

    let c = &rx.calls()[0];
    assert_eq!(c.path, "/truecaller/callback");
    assert_eq!(
        c.header("x-tcauth-signature"),
        Some(super::expected_signature(&cb_secret, &c.body).as_str())
    );
    let body: Value = serde_json::from_slice(&c.body).unwrap();
    assert_eq!(body["requestId"], n.as_str());
    assert_eq!(
        body["endpoint"],
        format!("{}/v1/default", s.server.base).as_str()
    );
    let token = body["accessToken"].as_str().unwrap();
    // The token it carries is the dialog's: stored hashed, bound to this client.
    let t = s
        .server
        .store
        .get_access_token(&tcauth_core::secret::TokenHash::of(token))
        .await
        .unwrap()
        .expect("the posted token is stored");
    assert_eq!(t.client_id, s.client_id);
    assert!(t.expires_at > tcauth_server::now());
    // And it reads the profile at the endpoint the body names.
    let profile = s
        .server
        .http
        .get(body["endpoint"].as_str().unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    let p: Value = profile.json().await.unwrap();
    assert_eq!(p["name"]["first"], "Asha", "{p}");

    let log = s
        .server
        .store
        .list_deliveries(&s.client_id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(c.header("x-tcauth-delivery"), Some(log[0].id.as_str()));
    // Recorded right after the 2xx.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let d = &s
            .server
            .store
            .list_deliveries(&s.client_id, 10)
            .await
            .unwrap()[0];
        if d.status == DeliveryStatus::Delivered {
            assert_eq!(d.attempts, 1);
            break;
        }
        assert!(Instant::now() < deadline, "not recorded as delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
