//! The webhook sender (CONTRACT.md §5): a signed JSON POST to an SMS gateway.
//!
//! Body: `{"phone_number":"+919876543210","code":"123456","expires_in":300,"purpose":"login"}`;
//! header `X-Tcauth-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`, keyed with
//! `TCAUTH_OTP_WEBHOOK_SECRET`. A 2xx answer within 5 s is a send; anything else is a
//! [`SendError`]. Redirects are not followed and proxy variables are ignored, so the signed
//! code goes only to the configured URL. https works (rustls, webpki roots).

use super::{OtpMessage, OtpSender, SendError};
use crate::settings::Secret;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;
use tcauth_core::secret::{hex, hmac_sha256};

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Tcauth-Signature";

/// The longest a gateway may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

#[derive(Serialize)]
struct Body<'a> {
    phone_number: &'a str,
    code: &'a str,
    expires_in: u64,
    purpose: &'a str,
}

/// The exact body bytes sent for `msg`.
pub fn body(msg: &OtpMessage) -> Vec<u8> {
    serde_json::to_vec(&Body {
        phone_number: &msg.phone_e164,
        code: &msg.code,
        expires_in: msg.expires_in,
        purpose: msg.purpose.as_str(),
    })
    .unwrap_or_default()
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret, body)))
}

impl WebhookSender {
    pub fn new(url: &str, secret: Secret) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tcauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(WebhookSender {
            client,
            url: url.to_string(),
            secret,
        })
    }
}

#[async_trait]
impl OtpSender for WebhookSender {
    async fn send(&self, msg: &OtpMessage) -> Result<(), SendError> {
        let body = body(msg);
        let sig = signature(&self.secret.0, &body);
        let resp = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await
            // Without the URL: it may carry a credential of the gateway's.
            .map_err(|e| SendError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::Status(status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcauth_core::model::OtpPurpose;

    #[test]
    fn body_and_signature() {
        let msg = OtpMessage {
            phone_e164: "+919876543210".into(),
            code: "123456".into(),
            expires_in: 300,
            purpose: OtpPurpose::Login,
        };
        let b = body(&msg);
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"{"phone_number":"+919876543210","code":"123456","expires_in":300,"purpose":"login"}"#
        );
        let s = signature(b"secret", &b);
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        assert_eq!(s, signature(b"secret", &b));
        assert_ne!(s, signature(b"other", &b));
    }
}
