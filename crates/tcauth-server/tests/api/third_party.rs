//! A third-party OAuth client, used unchanged: the `oauth2` crate (5.x) performs the PKCE code
//! exchange and the refresh against tcauth.

use crate::common::*;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use serde_json::json;

#[tokio::test]
async fn oauth2_crate_exchanges_a_pkce_code_and_refreshes() {
    let s = TestServer::start().await;
    let client_id = s.full_client().await;
    let sub = s.create_user().await;
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(AuthUrl::new(s.url("/v1/auth")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/v1/token")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    assert_eq!(challenge.method().as_str(), "S256");
    // The identity app mints the code for the challenge the client generated.
    let r = s
        .authorize(
            &client_id,
            &sub,
            &["openid", "phone", "offline_access"],
            challenge.as_str(),
            json!({}),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 201, "{v}");
    let code = v["code"].as_str().unwrap().to_string();

    let token = oauth
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&s.http)
        .await
        .unwrap_or_else(|e| panic!("oauth2 exchange failed: {e:?}"));
    assert_eq!(*token.token_type(), oauth2::basic::BasicTokenType::Bearer);
    assert_eq!(
        token.expires_in(),
        Some(std::time::Duration::from_secs(3600))
    );
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "phone", "offline_access"]);
    let at = token.access_token().secret().clone();
    assert_eq!(s.userinfo_status(&at).await, 200);

    let refreshed = oauth
        .exchange_refresh_token(token.refresh_token().expect("a refresh token"))
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("phone".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&s.http)
        .await
        .unwrap_or_else(|e| panic!("oauth2 refresh failed: {e:?}"));
    assert_ne!(refreshed.access_token().secret(), &at);
    assert!(refreshed.refresh_token().is_some());
    assert_eq!(
        s.userinfo_status(refreshed.access_token().secret()).await,
        200
    );

    // Errors parse as RFC 6749 §5.2 errors.
    let (_, verifier2) = PkceCodeChallenge::new_random_sha256();
    let err = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier2)
        .request_async(&s.http)
        .await
        .unwrap_err();
    match err {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidGrant);
            assert_eq!(
                e.error_description().map(String::as_str),
                Some("Invalid authorization code")
            );
        }
        other => panic!("expected a server error response, got {other:?}"),
    }
}

#[tokio::test]
async fn oauth2_crate_with_a_redirect_uri() {
    let s = TestServer::start().await;
    let client_id = s.full_client().await;
    let sub = s.create_user().await;
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(AuthUrl::new(s.url("/v1/auth")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/v1/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let r = s
        .authorize(
            &client_id,
            &sub,
            &["openid", "profile"],
            challenge.as_str(),
            json!({"redirect_uri": REDIRECT_URI, "nonce": "xyz"}),
        )
        .await;
    let (st, _, v) = json_of(r).await;
    assert_eq!(st, 201, "{v}");
    let token = oauth
        .exchange_code(AuthorizationCode::new(
            v["code"].as_str().unwrap().to_string(),
        ))
        .set_pkce_verifier(verifier)
        .request_async(&s.http)
        .await
        .unwrap_or_else(|e| panic!("oauth2 exchange failed: {e:?}"));
    let (st, _, info) = json_of(s.userinfo(token.access_token().secret()).await).await;
    assert_eq!(st, 200);
    assert_eq!(info["given_name"], "Asha");
}
