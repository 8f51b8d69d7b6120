//! Conformance check for the hot paths' combined reads (`get_client_and_code`,
//! `get_client_and_refresh_token`, `get_access_token_view`).

use super::{client, code, full_user, h, issued, NOW};
use std::sync::Arc;
use tcauth_core::model::{AccessToken, RateLimit, UserStatus};
use tcauth_store::{AccessTokenView, Store};

/// The hot paths' combined reads answer what the single reads answer, in every state.
pub async fn snapshot_reads(store: Arc<dyn Store>) {
    // Every column set, so that a combined read that mixed two up would show.
    let mut app = client("app", NOW);
    app.rate_limit = Some(RateLimit {
        per_second: 5,
        burst: 9,
    });
    app.branding = Some(tcauth_core::model::Branding {
        button_color: Some("#123456".to_string()),
        privacy_url: Some("https://app.example/privacy".to_string()),
        ..Default::default()
    });
    let u = full_user(42, "+919876543210");
    // Nothing yet.
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (None, None)
    );
    assert_eq!(
        store
            .get_client_and_refresh_token("app", &h("t-rt"))
            .await
            .unwrap(),
        (None, None)
    );
    assert_eq!(store.get_access_token_view(&h("t-at")).await.unwrap(), None);

    // A code of a user who does not exist yet, for an unknown client.
    store
        .insert_code(&code("c", "fam", NOW + 60))
        .await
        .unwrap();
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (None, Some((code("c", "fam", NOW + 60), None)))
    );
    store.create_client(&app).await.unwrap();
    store.create_user(&u).await.unwrap();
    assert_eq!(
        store.get_client_and_code("app", &h("c")).await.unwrap(),
        (
            Some(app.clone()),
            Some((code("c", "fam", NOW + 60), Some(u.clone())))
        )
    );
    // Another client's id finds that client (or none) and the same code.
    assert_eq!(
        store.get_client_and_code("other", &h("c")).await.unwrap(),
        (None, Some((code("c", "fam", NOW + 60), Some(u.clone()))))
    );
    // The code's state is read as it is: consumed after redemption.
    let t = issued("t", "fam", true);
    store.redeem_code(&h("c"), NOW, &t).await.unwrap();
    let (_, found) = store.get_client_and_code("app", &h("c")).await.unwrap();
    assert_eq!(found.unwrap().0.consumed_at, Some(NOW));

    assert_eq!(
        store
            .get_client_and_refresh_token("app", &h("t-rt"))
            .await
            .unwrap(),
        (
            Some(app.clone()),
            Some((t.refresh.clone().unwrap(), Some(u.clone())))
        )
    );
    assert_eq!(
        store.get_access_token_view(&h("t-at")).await.unwrap(),
        Some(AccessTokenView {
            token: t.access.clone(),
            client_exists: true,
            user: Some(u.clone()),
        })
    );
    // Revocation, a blocked user, a deleted user and a deleted client all show.
    store.revoke_family("fam").await.unwrap();
    store
        .set_user_status(42, UserStatus::Blocked)
        .await
        .unwrap();
    let view = store
        .get_access_token_view(&h("t-at"))
        .await
        .unwrap()
        .unwrap();
    assert!(view.token.revoked);
    assert_eq!(view.user.unwrap().status, UserStatus::Blocked);
    let (_, found) = store
        .get_client_and_refresh_token("app", &h("t-rt"))
        .await
        .unwrap();
    assert!(found.unwrap().0.revoked);
    store.delete_user(42).await.unwrap();
    store.delete_client("app").await.unwrap();
    assert_eq!(
        store.get_access_token_view(&h("t-at")).await.unwrap(),
        Some(AccessTokenView {
            token: AccessToken {
                revoked: true,
                ..t.access.clone()
            },
            client_exists: false,
            user: None,
        })
    );
    let (client, found) = store
        .get_client_and_refresh_token("app", &h("t-rt"))
        .await
        .unwrap();
    assert_eq!(client, None);
    assert_eq!(found.unwrap().1, None);
}
