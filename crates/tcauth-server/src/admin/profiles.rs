//! `POST /admin/v1/profiles` (CONTRACT.md §10): the trusted identity-app path for signed
//! profiles. `{"app_key","sub","request_nonce"}` → 201 with `payload`, `signature`,
//! `signatureAlgorithm` and the decoded fields side by side; the rules are
//! [`crate::signed::profile`]'s.

use super::{field_error, json_body, respond};
use crate::error::{json_response, no_store, ApiError};
use crate::signed::profile::{sign, ProfileRequest};
use crate::state::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    respond(
        async {
            let req: ProfileRequest = json_body(&headers, body).await?;
            let sub = req.check().map_err(field_error)?;
            let client = app
                .db(app.store.get_client_by_app_key(&req.app_key))
                .await?;
            let user = match client {
                Some(_) => app.db(app.store.get_user(sub)).await?,
                None => None,
            };
            let profile = req
                .profile(client.as_ref(), user.as_ref(), crate::now())
                .map_err(field_error)?;
            let keys = app.keys.get();
            let signed = app
                .signer
                .run(move || sign(&keys, profile))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "signing a profile");
                    ApiError::server_error()
                })?
                .map_err(|e| {
                    tracing::error!(error = %e, "signing a profile");
                    ApiError::server_error()
                })?;
            // It carries a person's profile: never cached.
            Ok(no_store(json_response(StatusCode::CREATED, &signed.view())))
        }
        .await,
    )
}
