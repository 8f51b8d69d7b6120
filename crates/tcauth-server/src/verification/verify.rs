//! `POST /v1/otp/client/verification/verify`: checks the code; on success makes sure the
//! number has a user (created with the given names; an existing profile is never changed) and
//! returns a single-use token for `phoneNumberDetail`.
//!
//! The names are checked before the code, so a typo in a name costs no attempt; they are
//! checked whether or not the number has an account, so the answers do not tell.

use super::{
    admit, error, json_object, partner, respond, str_field, VerificationError, TOKEN_TTL_SECS,
};
use crate::error::{json_response, ApiError};
use crate::otp::Checked;
use crate::state::{App, AppState};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::net::SocketAddr;
use tcauth_core::model::{OtpChallenge, OtpPurpose, User, UserStatus, VerificationToken};
use tcauth_core::otp::person_name;
use tcauth_core::secret::{new_token, TokenHash};
use tcauth_core::validate::new_sub;
use tcauth_store::StoreError;

pub async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(run(&app, peer, &headers, body).await)
}

pub fn invalid_name() -> ApiError {
    error(StatusCode::BAD_REQUEST, "Invalid name.")
}

pub fn invalid_otp() -> ApiError {
    error(StatusCode::BAD_REQUEST, "Invalid OTP.")
}

pub fn wrong_otp(attempts_left: u8) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({"code": 400, "message": "Invalid OTP.", "attemptsLeft": attempts_left}),
    )
}

pub fn locked(retry_after: u64) -> ApiError {
    ApiError {
        retry_after: Some(retry_after.max(1)),
        ..error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Request a new OTP.",
        )
    }
}

async fn run(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, VerificationError> {
    let _permit = admit(app, peer.ip()).await?;
    let obj = json_object(headers, body).await?;
    let client = partner(app, headers).await?;
    let given = str_field(&obj, "firstName").and_then(person_name);
    let family = str_field(&obj, "lastName").and_then(person_name);
    let (Some(given), Some(family)) = (given, family) else {
        return Err(invalid_name().into());
    };
    let (Some(id), Some(otp)) = (str_field(&obj, "verificationId"), str_field(&obj, "otp")) else {
        return Err(invalid_otp().into());
    };
    let checked = app
        .otp
        .check(
            &app.store_calls,
            OtpPurpose::Verification,
            id,
            &client.client_id,
            otp,
        )
        .await?;
    let challenge = match checked {
        Checked::Accepted(c) => c,
        Checked::Wrong { attempts_left } => return Err(wrong_otp(attempts_left).into()),
        Checked::Locked { retry_after } => return Err(locked(retry_after).into()),
        Checked::Expired => return Err(invalid_otp().into()),
    };
    ensure_user(app, &challenge, given, family).await?;
    let token = new_token(crate::now_ms());
    let now = crate::now();
    let record = VerificationToken {
        hash: TokenHash::of(&token),
        client_id: client.client_id.clone(),
        phone_e164: challenge.phone_e164.clone(),
        phone_country: challenge.phone_country.clone(),
        created_at: now,
        expires_at: now + TOKEN_TTL_SECS,
        used_at: None,
    };
    app.db(app.store.insert_verification_token(&record)).await?;
    tracing::info!(client_id = %client.client_id, "phone number verified");
    Ok(json_response(
        StatusCode::OK,
        &json!({"accessToken": token}),
    ))
}

/// Creates a user for the verified number unless one exists. Never changes an existing one.
async fn ensure_user(
    app: &AppState,
    c: &OtpChallenge,
    given: String,
    family: String,
) -> Result<(), StoreError> {
    for _ in 0..3 {
        if app
            .db(app.store.get_user_by_phone(&c.phone_e164))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let user = User {
            sub: new_sub(),
            phone_e164: c.phone_e164.clone(),
            phone_country: c.phone_country.clone(),
            phone_verified: true,
            given_name: Some(given.clone()),
            family_name: Some(family.clone()),
            email: None,
            picture: None,
            gender: None,
            address: None,
            status: UserStatus::Active,
            created_at: crate::now(),
        };
        match app.db(app.store.create_user(&user)).await {
            Ok(()) => {
                tracing::info!(sub = user.sub, "user created by phone verification");
                return Ok(());
            }
            // Taken meanwhile (the number, by a concurrent sign-up; or, rarely, the sub):
            // look again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Internal(
        "could not create a user for a verified number".into(),
    ))
}
