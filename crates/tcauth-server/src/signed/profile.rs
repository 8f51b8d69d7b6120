//! Minting a signed profile: the request's rules, the profile of the user for the app, and
//! its signature. `POST /admin/v1/profiles` and `tcauth profile sign` both go through here;
//! each does the two store lookups its own way (the server under `store_timeout`).
//!
//! Order of the checks (each failure names its field, CONTRACT.md §7's style): the shape of
//! `app_key`, `sub` and `request_nonce`, then the client of `app_key`, then the user of `sub`
//! (unknown or blocked). Unknown app keys and users are 400s naming the field, as `client_id`
//! and `sub` are at `POST /admin/v1/authorizations`.

use crate::keys::{KeyError, KeySet};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use tcauth_core::model::{Client, UnixTime, User, UserStatus};
use tcauth_core::profile::{self, SdkProfile, SIGNATURE_ALGORITHM};
use tcauth_core::validate::FieldError;

/// The longest app key looked up (ours are 32 hex digits).
const MAX_APP_KEY: usize = 128;

/// `{"app_key","sub","request_nonce"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub app_key: String,
    pub sub: String,
    pub request_nonce: String,
}

impl ProfileRequest {
    /// The checks before any lookup; returns the `sub` as a number.
    pub fn check(&self) -> Result<i64, FieldError> {
        if self.app_key.is_empty() || self.app_key.len() > MAX_APP_KEY {
            return Err(FieldError::new("app_key", "must be a client's app key"));
        }
        let sub = self
            .sub
            .parse::<i64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| FieldError::new("sub", "must be a user's sub (a decimal string)"))?;
        if !profile::is_valid_request_nonce(&self.request_nonce) {
            return Err(FieldError::new(
                "request_nonce",
                "must be 8–64 visible ASCII characters (no spaces)",
            ));
        }
        Ok(sub)
    }

    /// The profile to sign, once the client of `app_key` and the user of `sub` were looked
    /// up (`None`: not found).
    pub fn profile(
        &self,
        client: Option<&Client>,
        user: Option<&User>,
        now: UnixTime,
    ) -> Result<SdkProfile, FieldError> {
        let client = client.ok_or_else(|| FieldError::new("app_key", "no such client"))?;
        let user = user.ok_or_else(|| FieldError::new("sub", "no such user"))?;
        if user.status != UserStatus::Active {
            return Err(FieldError::new("sub", "the user is blocked"));
        }
        Ok(profile::sdk_profile(
            user,
            &client.app_key,
            client.package_name.as_deref(),
            &self.request_nonce,
            now,
        ))
    }
}

/// A profile with its payload and signature.
#[derive(Debug, Clone)]
pub struct SignedProfile {
    pub profile: SdkProfile,
    pub payload: String,
    pub signature: String,
}

/// What the SDK hands an app (its `TrueProfile`), flat: `payload`, `signature`,
/// `signatureAlgorithm`, then the decoded fields side by side, in the payload's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedView<'a> {
    pub payload: &'a str,
    pub signature: &'a str,
    pub signature_algorithm: &'static str,
    #[serde(flatten)]
    pub profile: &'a SdkProfile,
}

impl SignedProfile {
    pub fn view(&self) -> SignedView<'_> {
        SignedView {
            payload: &self.payload,
            signature: &self.signature,
            signature_algorithm: SIGNATURE_ALGORITHM,
            profile: &self.profile,
        }
    }
}

/// Signs `profile` with the current key: SHA512withRSA over the bytes of the base64 payload
/// string. CPU-bound (one RSA private-key operation): run it on the signing threads.
pub fn sign(keys: &KeySet, profile: SdkProfile) -> Result<SignedProfile, KeyError> {
    let payload = profile::payload(&profile);
    let signature = STANDARD.encode(keys.sign_sha512(payload.as_bytes())?);
    Ok(SignedProfile {
        profile,
        payload,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(app_key: &str, sub: &str, nonce: &str) -> ProfileRequest {
        ProfileRequest {
            app_key: app_key.into(),
            sub: sub.into(),
            request_nonce: nonce.into(),
        }
    }

    #[test]
    fn checks_name_their_field_in_order() {
        let field = |r: ProfileRequest| r.check().unwrap_err().field;
        assert_eq!(field(req("", "x", "")), "app_key");
        assert_eq!(field(req(&"k".repeat(129), "1", "12345678")), "app_key");
        assert_eq!(field(req("k", "x", "")), "sub");
        assert_eq!(field(req("k", "-5", "12345678")), "sub");
        assert_eq!(field(req("k", "0", "12345678")), "sub");
        assert_eq!(field(req("k", "5", "short")), "request_nonce");
        assert_eq!(field(req("k", "5", "tab\there!")), "request_nonce");
        assert_eq!(req("k", "5", "12345678").check().unwrap(), 5);
    }
}
