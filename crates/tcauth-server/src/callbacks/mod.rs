//! Mobile Websites callbacks (CONTRACT.md §9): what the dialog queues and the worker delivers.
//!
//! - [`secret`]: a client's callback signing secret, derived from the server secret and the
//!   client's `callback_salt` (never stored; shown once, in the admin answer that sets
//!   `callback_url`).
//! - [`Body`]: the JSON POSTed to the callback URL; [`queued`] builds the outbox record with
//!   the body sealed under the server secret ([`seal_body`], [`open_body`]), since it may carry
//!   an access token.
//! - [`worker`]: the background task of every node that leases due deliveries from the store,
//!   POSTs them and records the outcome; [`guard`]: the addresses it refuses to call (SSRF).

pub mod guard;
pub mod worker;

use crate::settings::Secret;
use serde::Serialize;
use tcauth_core::model::{CallbackDelivery, DeliveryStatus};
use tcauth_core::secret::{hex, hmac_sha256, new_id, open, seal};

/// The header naming the delivery (the same on every retry).
pub const DELIVERY_HEADER: &str = "X-Tcauth-Delivery";
/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Tcauth-Signature";

/// A client's callback secret: hex of HMAC-SHA256(server secret, label ‖ salt). The same on
/// every node; a new salt (setting `callback_url` again) gives a new secret.
pub fn secret(server: &Secret, salt: &str) -> String {
    let mut msg = b"tcauth/v1/callback-secret/".to_vec();
    msg.extend_from_slice(salt.as_bytes());
    hex(&hmac_sha256(&server.0, &msg))
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, keyed with the bytes of the hex secret as the
/// client received it (so a receiver computes it from the string it was given): the OTP
/// webhook's signature, with the client's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    crate::otp::webhook::signature(secret.as_bytes(), body)
}

/// What the dialog's answer POSTs (CONTRACT.md §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// Continue: `{"requestId","accessToken","endpoint"}`.
    Granted {
        #[serde(rename = "requestId")]
        request_id: String,
        #[serde(rename = "accessToken")]
        access_token: String,
        endpoint: String,
    },
    /// Reject or the skip footer: `{"requestId","status":"user_rejected"}`.
    Rejected {
        #[serde(rename = "requestId")]
        request_id: String,
        status: &'static str,
    },
}

impl Body {
    pub fn rejected(request_id: &str) -> Body {
        Body::Rejected {
            request_id: request_id.to_string(),
            status: "user_rejected",
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a callback body serialises")
    }
}

/// The label of the callback bodies' sealing key.
const SEAL_LABEL: &[u8] = b"tcauth/v1/callback-body-seal";

/// `nonce ‖ AES-256-GCM(body)`, the delivery id as associated data (a sealed body moved to
/// another row does not open).
pub fn seal_body(server: &Secret, delivery_id: &str, body: &[u8]) -> Vec<u8> {
    seal(&server.0, SEAL_LABEL, delivery_id.as_bytes(), body)
}

/// The body [`seal_body`] sealed, or `None` if it does not open with this secret and id.
pub fn open_body(server: &Secret, delivery_id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    open(&server.0, SEAL_LABEL, delivery_id.as_bytes(), sealed)
}

/// A new pending delivery of `body` to `url`, due now, given up after `expires_at` (Unix s).
pub fn queued(
    server: &Secret,
    client_id: &str,
    url: &str,
    body: &Body,
    now_ms: i64,
    expires_at: i64,
) -> CallbackDelivery {
    let id = new_id();
    let request_id = match body {
        Body::Granted { request_id, .. } | Body::Rejected { request_id, .. } => request_id,
    };
    CallbackDelivery {
        body_sealed: seal_body(server, &id, &body.to_bytes()),
        id,
        client_id: client_id.to_string(),
        request_id: request_id.clone(),
        url: url.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at_ms: now_ms,
        expires_at,
        created_at: now_ms.div_euclid(1000),
        delivered_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_contract_json() {
        let g = Body::Granted {
            request_id: "n1".into(),
            access_token: "tok".into(),
            endpoint: "https://id.example/v1/default".into(),
        };
        assert_eq!(
            String::from_utf8(g.to_bytes()).unwrap(),
            r#"{"requestId":"n1","accessToken":"tok","endpoint":"https://id.example/v1/default"}"#
        );
        assert_eq!(
            String::from_utf8(Body::rejected("n2").to_bytes()).unwrap(),
            r#"{"requestId":"n2","status":"user_rejected"}"#
        );
    }

    #[test]
    fn sealed_bodies_open_only_with_their_id_and_secret() {
        let s = Secret(vec![1; 32]);
        let sealed = seal_body(&s, "d1", b"{\"a\":1}");
        assert_eq!(
            open_body(&s, "d1", &sealed).as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(open_body(&s, "d2", &sealed), None);
        assert_eq!(open_body(&Secret(vec![2; 32]), "d1", &sealed), None);
        assert_eq!(open_body(&s, "d1", &sealed[..20]), None);
    }

    #[test]
    fn secrets_follow_the_salt() {
        let s = Secret(vec![1; 32]);
        assert_eq!(secret(&s, "a"), secret(&s, "a"));
        assert_ne!(secret(&s, "a"), secret(&s, "b"));
        assert_eq!(secret(&s, "a").len(), 64);
        assert_ne!(secret(&s, "a"), secret(&Secret(vec![2; 32]), "a"));
    }
}
