//! What the pages need from one-time codes: send one to a number for this browser session,
//! and check one. The pages see only this trait; [`for_app`] gives the server's implementation.

use crate::otp::{self, StartError};
use crate::state::AppState;
use async_trait::async_trait;
use std::net::IpAddr;
use tcauth_core::model::{ClientMode, OtpPurpose};
use tcauth_core::phone::Phone;

/// A code was sent.
pub struct Sent {
    /// The challenge to check codes against.
    pub challenge_id: String,
    /// Seconds until another code may be asked for.
    pub resend_after: u64,
}

/// Why no code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// A send limit (cooldown, per number, per IP, per country, per client), or the number is
    /// locked by wrong codes: try again after this many seconds.
    Limited { retry_after: u64 },
    /// The gateway, the store or the shared send limits (Redis) failed.
    Failed,
    /// The app is in test mode and this is not one of its test numbers (CONTRACT.md §11).
    NotRegistered,
}

/// The answer to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Accepted,
    /// Wrong; `attempts_left` more tries (0: the code is now burnt).
    Wrong {
        attempts_left: u8,
    },
    /// Too many wrong tries: not even the right code opens it now.
    Locked,
    /// Expired, already used, or not this session's.
    Expired,
    /// The store did not answer.
    Unavailable,
}

#[async_trait]
pub trait LoginCodes: Send + Sync {
    /// Sends a code to `phone` for the app `client_id`, bound to `binding` (the session). The
    /// send limits are charged last; the answer does not depend on whether the number has an
    /// account.
    async fn send(
        &self,
        phone: &Phone,
        client_id: &str,
        binding: &str,
        ip: IpAddr,
    ) -> Result<Sent, SendFailure>;

    /// Checks `code` against the challenge, which must have been sent to `phone_e164` for
    /// `binding`.
    async fn check(
        &self,
        challenge_id: &str,
        phone_e164: &str,
        binding: &str,
        code: &str,
    ) -> Checked;

    /// Makes a challenge unusable (a newer code replaced it). Best effort.
    async fn withdraw(&self, challenge_id: &str);
}

/// The server's one-time codes: [`crate::otp::OtpService`], purpose `login`.
pub fn for_app(app: &AppState) -> impl LoginCodes + '_ {
    Service(app)
}

struct Service<'a>(&'a AppState);

#[async_trait]
impl LoginCodes for Service<'_> {
    async fn send(
        &self,
        phone: &Phone,
        client_id: &str,
        binding: &str,
        ip: IpAddr,
    ) -> Result<Sent, SendFailure> {
        let (app, otp) = (self.0, &self.0.otp);
        // The mode is read now, so a client moved to live stops refusing at once.
        let mode = match app.db(app.store.get_client(client_id)).await {
            Ok(Some(c)) => c.mode,
            // Gone since the sign-in began: a live client's rules (the page ends it later).
            Ok(None) => ClientMode::Live,
            Err(e) => {
                tracing::warn!(error = %e, "sign-in: could not read the client");
                return Err(SendFailure::Failed);
            }
        };
        match otp
            .start(
                &app.store_calls,
                OtpPurpose::Login,
                phone,
                ip,
                otp::ForClient { client_id, mode },
                binding,
            )
            .await
        {
            Ok(started) => Ok(Sent {
                challenge_id: started.id,
                resend_after: otp.limits.next_send_in(&phone.e164).await,
            }),
            Err(StartError::Limited { retry_after }) => Err(SendFailure::Limited { retry_after }),
            // The shared send limits did not answer: no code without them.
            Err(StartError::LimitsUnavailable) => Err(SendFailure::Failed),
            Err(StartError::Send { .. }) => Err(SendFailure::Failed),
            Err(StartError::NotRegistered) => Err(SendFailure::NotRegistered),
            Err(StartError::Store(e)) => {
                tracing::warn!(error = %e, "sign-in: could not store a one-time code");
                Err(SendFailure::Failed)
            }
        }
    }

    async fn check(
        &self,
        challenge_id: &str,
        phone_e164: &str,
        binding: &str,
        code: &str,
    ) -> Checked {
        let (app, otp) = (self.0, &self.0.otp);
        match otp
            .check(
                &app.store_calls,
                OtpPurpose::Login,
                challenge_id,
                binding,
                code,
            )
            .await
        {
            Ok(otp::Checked::Accepted(c)) if c.phone_e164 == phone_e164 => Checked::Accepted,
            Ok(otp::Checked::Accepted(_)) | Ok(otp::Checked::Expired) => Checked::Expired,
            Ok(otp::Checked::Wrong { attempts_left }) => Checked::Wrong { attempts_left },
            Ok(otp::Checked::Locked { .. }) => Checked::Locked,
            Err(_) => Checked::Unavailable,
        }
    }

    async fn withdraw(&self, challenge_id: &str) {
        if let Err(e) = self.0.otp.withdraw(&self.0.store_calls, challenge_id).await {
            tracing::warn!(error = %e, "sign-in: could not withdraw a replaced one-time code");
        }
    }
}
