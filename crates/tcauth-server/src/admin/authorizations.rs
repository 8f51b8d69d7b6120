//! `POST /admin/v1/authorizations`: the trusted identity-app path. An app that has verified the
//! user and shown its own consent mints an authorization code bound to a PKCE challenge.

use super::{created, field_error, json_body, respond};
use crate::state::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tcauth_core::model::{AuthCode, Client, UserStatus};
use tcauth_core::secret::{new_ordered_id, new_token, TokenHash};
use tcauth_core::validate::FieldError;
use tcauth_core::{pkce, ScopeSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorization {
    client_id: String,
    sub: String,
    scopes: Vec<String>,
    code_challenge: String,
    code_challenge_method: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

const MAX_NONCE: usize = 512;

impl NewAuthorization {
    /// The `sub` as a number.
    pub fn sub(&self) -> Result<i64, FieldError> {
        self.sub
            .parse::<i64>()
            .map_err(|_| FieldError::new("sub", "must be a user's sub (a decimal string)"))
    }

    /// The checks after the client and the user are found: the scopes (returned), the PKCE
    /// challenge, the nonce and the redirect URI, in that order.
    pub fn check(&self, client: &Client) -> Result<ScopeSet, FieldError> {
        let bad = |f: &str, m: &str| FieldError::new(f, m);
        let scopes =
            ScopeSet::from_names(&self.scopes).map_err(|e| bad("scopes", &e.to_string()))?;
        if scopes.is_empty() || !scopes.is_subset_of(client.scopes) {
            return Err(bad(
                "scopes",
                &format!(
                    "must be a non-empty subset of the client's scopes ({})",
                    client.scopes
                ),
            ));
        }
        if !pkce::is_well_formed(&self.code_challenge) {
            return Err(bad(
                "code_challenge",
                "must be 43–128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if self.code_challenge_method != "S256" {
            return Err(bad("code_challenge_method", "must be S256"));
        }
        if let Some(n) = &self.nonce {
            if n.is_empty() || n.len() > MAX_NONCE || n.chars().any(char::is_control) {
                return Err(bad("nonce", "must be 1–512 printable characters"));
            }
        }
        if let Some(u) = &self.redirect_uri {
            if !client.redirect_uris.contains(u) {
                return Err(bad(
                    "redirect_uri",
                    "is not one of the client's registered redirect URIs",
                ));
            }
        }
        Ok(scopes)
    }
}

pub async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    respond(
        async {
            let req: NewAuthorization = json_body(&headers, body).await?;
            let bad = |f: &str, m: &str| field_error(FieldError::new(f, m));
            let client = app
                .db(app.store.get_client(&req.client_id))
                .await?
                .ok_or_else(|| bad("client_id", "no such client"))?;
            let sub = req.sub().map_err(field_error)?;
            let user = app
                .db(app.store.get_user(sub))
                .await?
                .ok_or_else(|| bad("sub", "no such user"))?;
            if user.status != UserStatus::Active {
                return Err(bad("sub", "the user is blocked").into());
            }
            let scopes = req.check(&client).map_err(field_error)?;
            let now = crate::now();
            let code = new_token(crate::now_ms());
            let ttl = app.settings.code_ttl.as_secs();
            app.db(app.store.insert_code(&AuthCode {
                hash: TokenHash::of(&code),
                family_id: new_ordered_id(crate::now_ms()),
                client_id: client.client_id,
                sub,
                scopes,
                code_challenge: req.code_challenge,
                redirect_uri: req.redirect_uri,
                nonce: req.nonce,
                auth_time: now,
                expires_at: now + ttl as i64,
                consumed_at: None,
            }))
            .await?;
            Ok(created(json!({"code": code, "expires_in": ttl})))
        }
        .await,
    )
}
