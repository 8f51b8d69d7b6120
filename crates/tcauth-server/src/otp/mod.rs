//! One-time codes: the senders, the send limits, and [`OtpService`], which every front end
//! (the verification API, the sign-in pages) uses to send a code and to check one.
//!
//! A front end does, in this order:
//! 1. parse the number ([`tcauth_core::otp::parse_sms_number`]);
//! 2. its own checks (the client, the session);
//! 3. [`OtpService::start`] with the client_id and a binding (the client_id, or
//!    [`tcauth_core::otp::session_binding`] of the browser session): the send limits are
//!    charged only now, once everything else has passed (a request that would send nothing
//!    uses up no limit that others share); then the challenge is stored and the code sent. It
//!    returns the challenge id to keep. A send whose challenge could not be stored is refunded;
//!    one the gateway failed stays counted (the gateway may have delivered it);
//! 4. [`OtpService::check`] with that id, the same binding and the code typed in. Wrong codes
//!    count against the number across resends (`wrong_codes_per_number`): past that cap the
//!    number takes no check and no new code until its oldest failure leaves the window.

pub mod limits;
pub mod log;
pub mod webhook;

pub use limits::{Refused, SendLimiter, SendLimits, Ticket};
pub use log::LogSender;
pub use webhook::WebhookSender;

use crate::db::StoreCalls;
use crate::settings::{OtpSenderConfig, Settings};
use async_trait::async_trait;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use tcauth_core::model::{ClientMode, OtpChallenge, OtpPurpose};
use tcauth_core::otp;
use tcauth_core::phone::Phone;
use tcauth_core::secret::{ct_eq, new_id};
use tcauth_store::{OtpCheck, StoreError};

/// What a test client's unregistered number is told, by the verification API (403) and on the
/// sign-in pages (CONTRACT.md §11).
pub const NOT_REGISTERED: &str = "Number not registered for testing.";

/// One code to deliver.
#[derive(Clone)]
pub struct OtpMessage {
    /// E.164, e.g. `+919876543210`.
    pub phone_e164: String,
    /// The six digits.
    pub code: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    pub purpose: OtpPurpose,
}

impl fmt::Debug for OtpMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpMessage")
            .field("phone_e164", &log::mask(&self.phone_e164))
            .field("code", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// Why a code was not delivered. Messages never carry the code.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the gateway answered HTTP {0}")]
    Status(u16),
    #[error("the gateway could not be reached: {0}")]
    Network(String),
    #[error("{0}")]
    Other(String),
}

/// Delivers codes. Implement it to add an SMS provider.
#[async_trait]
pub trait OtpSender: Send + Sync {
    async fn send(&self, msg: &OtpMessage) -> Result<(), SendError>;
}

/// The client a code is asked for, and its mode (CONTRACT.md §11).
#[derive(Debug, Clone, Copy)]
pub struct ForClient<'a> {
    pub client_id: &'a str,
    pub mode: ClientMode,
}

/// A code sent: the challenge id to check it against later.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

#[derive(Debug)]
pub enum StartError {
    /// Over a send limit (cooldown, per number, per IP, per country, per client) or the
    /// number is locked by wrong codes: nothing was counted; try again in `retry_after` s.
    Limited { retry_after: u64 },
    /// The shared send limits (Redis) did not answer: no code is sent without them.
    LimitsUnavailable,
    /// The store failed or timed out; nothing was sent (and the send was refunded).
    Store(StoreError),
    /// A test client's number that is not one of its test numbers (CONTRACT.md §11): nothing
    /// was charged, stored or sent.
    NotRegistered,
    /// The sender failed; the challenge was withdrawn. A new code may be asked for in
    /// `retry_after` seconds (the number's cooldown, which this attempt started).
    Send { retry_after: u64 },
}

/// The outcome of [`OtpService::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The right code; the challenge is consumed. Here it is (the number that was verified).
    Accepted(OtpChallenge),
    /// A wrong code; `attempts_left` more may be tried (0: the code is now burnt).
    Wrong { attempts_left: u8 },
    /// Too many wrong codes: a new code is needed, which may be asked for in `retry_after`
    /// seconds.
    Locked { retry_after: u64 },
    /// Unknown, expired, used, or not this caller's (or not for this purpose).
    Expired,
}

pub struct OtpService {
    sender: Arc<dyn OtpSender>,
    pub limits: SendLimiter,
    key: [u8; 32],
    ttl_secs: u64,
}

impl OtpService {
    /// The sender the settings name, with `limits` (see [`SendLimiter`]).
    pub fn new(settings: &Settings, limits: SendLimiter) -> Result<Self, String> {
        let sender: Arc<dyn OtpSender> = match &settings.otp_sender {
            OtpSenderConfig::Log => {
                tracing::warn!(
                    "one-time codes go to the server log (the development sender): set \
                     TCAUTH_OTP_WEBHOOK_URL and TCAUTH_OTP_WEBHOOK_SECRET to send them by SMS"
                );
                Arc::new(LogSender)
            }
            OtpSenderConfig::Webhook { url, secret } => {
                tracing::info!("one-time codes go to the webhook sender");
                Arc::new(WebhookSender::new(url, secret.clone())?)
            }
        };
        Ok(Self::with_sender(settings, sender, limits))
    }

    /// Any sender (an SMS provider of one's own, or a test double).
    pub fn with_sender(
        settings: &Settings,
        sender: Arc<dyn OtpSender>,
        limits: SendLimiter,
    ) -> Self {
        OtpService {
            sender,
            limits,
            key: otp::mac_key(&settings.secret.0),
            ttl_secs: settings.otp_ttl.as_secs(),
        }
    }

    /// Seconds a code stays valid.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Charges the send limits for a code to `phone` for `client_id`, asked for from `ip`;
    /// then stores a new challenge bound to `binding` and sends its code. Call it last, once
    /// every other check has passed. The challenge is durable before the code leaves; if
    /// storing fails the send is refunded, if sending fails the challenge is withdrawn.
    ///
    /// For a client in test mode (CONTRACT.md §11) the number must be one of its test
    /// numbers, else [`StartError::NotRegistered`] before anything is charged; for a test
    /// number the code is its fixed one and nothing goes through the sender. Every other rule
    /// (limits, attempts, expiry, single use) is the same.
    pub async fn start(
        &self,
        db: &StoreCalls,
        purpose: OtpPurpose,
        phone: &Phone,
        ip: IpAddr,
        client: ForClient<'_>,
        binding: &str,
    ) -> Result<Started, StartError> {
        let ForClient { client_id, mode } = client;
        let fixed = match mode {
            ClientMode::Live => None,
            ClientMode::Test => {
                let t = db
                    .run(db.store.get_test_number(client_id, &phone.e164))
                    .await
                    .map_err(StartError::Store)?;
                Some(t.ok_or(StartError::NotRegistered)?.otp)
            }
        };
        let ticket = match self.limits.admit(phone, ip, client_id).await {
            Ok(t) => t,
            Err(Refused::Limited { retry_after }) => {
                return Err(StartError::Limited { retry_after })
            }
            // The shared send limits did not answer: fail closed (checklist O10).
            Err(Refused::Unavailable) => return Err(StartError::LimitsUnavailable),
        };
        let now = crate::now();
        let id = new_id();
        let code = fixed.clone().unwrap_or_else(otp::generate);
        let challenge = OtpChallenge {
            code_mac: otp::mac(&self.key, &id, &phone.e164, &code),
            id: id.clone(),
            purpose,
            phone_e164: phone.e164.clone(),
            phone_country: phone.country.clone(),
            binding: binding.to_string(),
            attempts_left: otp::MAX_ATTEMPTS,
            created_at: now,
            expires_at: now.saturating_add(self.ttl_secs as i64),
            consumed_at: None,
        };
        if let Err(e) = db.run(db.store.insert_otp(&challenge)).await {
            // Nothing left this server: the send is handed back.
            self.limits.refund(&ticket).await;
            return Err(StartError::Store(e));
        }
        if fixed.is_some() {
            // A test number: its code is known to the app team, no message is sent.
            return Ok(Started {
                id,
                expires_in: self.ttl_secs,
            });
        }
        let msg = OtpMessage {
            phone_e164: phone.e164.clone(),
            code,
            expires_in: self.ttl_secs,
            purpose,
        };
        if let Err(e) = self.sender.send(&msg).await {
            tracing::warn!(error = %e, purpose = purpose.as_str(), "could not send a one-time code");
            // The gateway may have delivered it all the same: make sure it opens nothing.
            if let Err(e) = db.run(db.store.burn_otp(&id, crate::now())).await {
                tracing::warn!(error = %e, "could not withdraw an unsent one-time code");
            }
            return Err(StartError::Send {
                retry_after: self.limits.next_send_in(&phone.e164).await,
            });
        }
        Ok(Started {
            id,
            expires_in: self.ttl_secs,
        })
    }

    /// Checks `code` for the challenge `id` on behalf of `binding`.
    pub async fn check(
        &self,
        db: &StoreCalls,
        purpose: OtpPurpose,
        id: &str,
        binding: &str,
        code: &str,
    ) -> Result<Checked, StoreError> {
        // Ids are 32 hex digits; anything else cannot exist, so spare the store.
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Checked::Expired);
        }
        let Some(challenge) = db.run(db.store.get_otp(id)).await? else {
            return Ok(Checked::Expired);
        };
        // Another caller's challenge is just unknown to this one (the store checks it again,
        // atomically): it spends no attempt and learns nothing, not even of a lock.
        if challenge.purpose != purpose || !ct_eq(challenge.binding.as_bytes(), binding.as_bytes())
        {
            return Ok(Checked::Expired);
        }
        let e164 = &challenge.phone_e164;
        if let Some(retry_after) = self.limits.locked_for(e164).await {
            return Ok(Checked::Locked { retry_after });
        }
        let mac = otp::mac(&self.key, id, e164, code);
        let now = crate::now();
        Ok(
            match db.run(db.store.check_otp(id, binding, &mac, now)).await? {
                OtpCheck::Accepted => Checked::Accepted(OtpChallenge {
                    consumed_at: Some(now),
                    ..challenge
                }),
                OtpCheck::Wrong { attempts_left } => {
                    let today = self.limits.record_wrong(e164).await;
                    Checked::Wrong {
                        attempts_left: attempts_left.min(today.min(u8::MAX as u32) as u8),
                    }
                }
                OtpCheck::Locked => Checked::Locked {
                    retry_after: self.limits.next_send_in(e164).await,
                },
                OtpCheck::Expired => Checked::Expired,
            },
        )
    }

    /// Withdraws a challenge (e.g. when a newer code replaces it): no code opens it any more.
    pub async fn withdraw(&self, db: &StoreCalls, id: &str) -> Result<(), StoreError> {
        db.run(db.store.burn_otp(id, crate::now())).await
    }
}
