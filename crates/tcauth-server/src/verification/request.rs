//! `POST /v1/otp/client/verification/request`: sends a code to a number.
//!
//! The number is parsed and normalised to E.164 (so `+91 98765 43210`, `00919876543210` and
//! `9876543210` with `IN` are one number), then the client is checked, and only then are the
//! send limits charged (issue 15: a flood with a bogus `clientId` used to spend a country's
//! limit and the number's cooldown for everyone). Nothing here depends on whether the number
//! has an account.

use super::{
    admit, error, json_object, partner, respond, too_many_requests, unavailable, VerificationError,
};
use crate::error::{json_response, ApiError};
use crate::otp::{ForClient, StartError};
use crate::state::App;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use tcauth_core::model::OtpPurpose;
use tcauth_core::otp::parse_sms_number;
use tcauth_core::phone::Phone;

pub async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(run(&app, peer, &headers, body).await)
}

pub fn invalid_phone() -> ApiError {
    error(StatusCode::BAD_REQUEST, "Invalid phone number.")
}

pub fn send_failed(retry_after: u64) -> ApiError {
    ApiError {
        retry_after: Some(retry_after.max(1)),
        ..error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Could not send the OTP. Try again.",
        )
    }
}

/// A test client's number that is not one of its test numbers (CONTRACT.md §11).
pub fn not_registered() -> ApiError {
    error(StatusCode::FORBIDDEN, crate::otp::NOT_REGISTERED)
}

/// `phoneNumber` (a string: national with `countryCode`, or international) and the optional
/// `countryCode` (ISO 3166 alpha-2).
fn phone_of(obj: &Map<String, Value>) -> Result<Phone, ApiError> {
    let Some(Value::String(number)) = obj.get("phoneNumber") else {
        return Err(invalid_phone());
    };
    let country = match obj.get("countryCode") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.trim().is_empty() => None,
        Some(Value::String(c)) => Some(c.trim()),
        Some(_) => return Err(invalid_phone()),
    };
    parse_sms_number(number, country).map_err(|_| invalid_phone())
}

async fn run(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, VerificationError> {
    let _permit = admit(app, peer.ip()).await?;
    let obj = json_object(headers, body).await?;
    let phone = phone_of(&obj)?;
    let client = partner(app, headers).await?;
    let id = &client.client_id;
    match app
        .otp
        .start(
            &app.store_calls,
            OtpPurpose::Verification,
            &phone,
            peer.ip(),
            ForClient {
                client_id: id,
                mode: client.mode,
            },
            id,
        )
        .await
    {
        Ok(started) => {
            tracing::info!(client_id = %client.client_id, country = %phone.country, "verification code sent");
            // A struct, so the members keep the contract's order.
            #[derive(serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Answer {
                verification_id: String,
                method: &'static str,
                ttl: u64,
            }
            Ok(json_response(
                StatusCode::OK,
                &Answer {
                    verification_id: started.id,
                    method: "otp",
                    ttl: started.expires_in,
                },
            ))
        }
        Err(StartError::Limited { retry_after }) => Err(too_many_requests(retry_after).into()),
        // The shared send limits did not answer: fail closed (checklist O10).
        Err(StartError::LimitsUnavailable) => Err(unavailable().into()),
        Err(StartError::Store(e)) => Err(e.into()),
        Err(StartError::Send { retry_after }) => Err(send_failed(retry_after).into()),
        Err(StartError::NotRegistered) => Err(not_registered().into()),
    }
}
