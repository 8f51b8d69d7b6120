//! Truecaller's two profile shapes of a [`User`]: the web profile of `GET /v1/default`
//! (CONTRACT.md §9) and the JSON inside an SDK v2.8 / iOS signed profile (§10), with the
//! latter's `verifier`. Pure: the signature itself is the server's (`tcauth_server::signed`).
//!
//! Both follow one rule: an attribute the user never set is absent, never `null` or `""`.
//! Where the contract is silent:
//! - `gender` is always present: `NotSet` / `N` when the user's gender is `other` or unset
//!   (Truecaller's own value for "not given").
//! - `countryCode` (lower-case ISO 3166 alpha-2) is the address's `country` when that is a
//!   two-letter code, else the phone number's country. On `/v1/default` it appears only inside
//!   an address, so `addresses` is absent for a user without one.
//! - `history.name.updateTime` is the account's creation time in ms (tcauth never renames a
//!   user); `history` is absent for a user without a name.
//! - `isTrueName` and `isAmbassador` (booleans in the SDK's `TrueProfile`) are always `false`:
//!   tcauth neither vouches for names nor has ambassadors.
//! - `aboutMe`, `jobTitle`, `companyName` and `url` are attributes tcauth users do not have
//!   yet, so they are always absent.

use crate::model::{Address, UnixTime, User, UserStatus};
use crate::phone::e164_digits;
use crate::secret::hmac_sha256;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;

/// `signatureAlgorithm` of every signed profile.
pub const SIGNATURE_ALGORITHM: &str = "SHA512withRSA";

/// Bounds of a `requestNonce` (§9's rule, shared by §10's signed profiles).
pub const MIN_NONCE: usize = 8;
pub const MAX_NONCE: usize = 64;

/// A `requestNonce` is 8–64 visible ASCII characters (`!` to `~`: no spaces, no controls),
/// the rule of §9's `/v1/web/verify` too.
pub fn is_valid_request_nonce(n: &str) -> bool {
    (MIN_NONCE..=MAX_NONCE).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_graphic())
}

/// `verifier`: base64 of HMAC-SHA256 over the package name, keyed with the app key's bytes
/// (Truecaller's "Server Side Response Validation").
pub fn verifier(app_key: &str, package_name: &str) -> String {
    STANDARD.encode(hmac_sha256(app_key.as_bytes(), package_name.as_bytes()))
}

/// The phone number as the JSON number Truecaller sends (`919876543210`); `None` only for a
/// stored number that is not E.164 (corrupt data).
pub fn phone_number(e164: &str) -> Option<u64> {
    e164_digits(e164).parse().ok()
}

/// `Male` | `Female` | `NotSet`.
fn web_gender(g: Option<&str>) -> &'static str {
    match g {
        Some("male") => "Male",
        Some("female") => "Female",
        _ => "NotSet",
    }
}

/// `M` | `F` | `N`.
fn sdk_gender(g: Option<&str>) -> &'static str {
    match g {
        Some("male") => "M",
        Some("female") => "F",
        _ => "N",
    }
}

/// The lower-case country of the user: their address's, when it is an alpha-2 code, else
/// their number's.
pub fn country_code(user: &User) -> String {
    let from_address = user
        .address
        .as_ref()
        .and_then(|a| a.country.as_deref())
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()));
    from_address
        .unwrap_or(&user.phone_country)
        .to_ascii_lowercase()
}

fn address_of(user: &User) -> Option<&Address> {
    user.address.as_ref().filter(|a| !a.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Name {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebAddress {
    pub country_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineIdentities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTime {
    pub update_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub name: UpdateTime,
}

/// The profile of `GET /v1/default` (§9), members in Truecaller's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebProfile {
    pub id: String,
    pub user_id: i64,
    pub phone_numbers: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<WebAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_identities: Option<OnlineIdentities>,
    pub gender: &'static str,
    pub is_active: bool,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub badges: Vec<String>,
    pub created_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_me: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

/// `user` in the shape of `GET /v1/default`.
pub fn web_profile(user: &User) -> WebProfile {
    let created_ms = user.created_at.saturating_mul(1000);
    let has_name = user.given_name.is_some() || user.family_name.is_some();
    let addresses = address_of(user).map(|a| {
        vec![WebAddress {
            country_code: country_code(user),
            city: a.locality.clone(),
            street: a.street_address.clone(),
            zipcode: a.postal_code.clone(),
        }]
    });
    WebProfile {
        id: user.sub.to_string(),
        user_id: user.sub,
        phone_numbers: phone_number(&user.phone_e164).into_iter().collect(),
        name: has_name.then(|| Name {
            first: user.given_name.clone(),
            last: user.family_name.clone(),
        }),
        addresses,
        avatar_url: user.picture.clone(),
        online_identities: user.email.as_ref().map(|e| OnlineIdentities {
            email: Some(e.clone()),
            url: None,
        }),
        gender: web_gender(user.gender.as_deref()),
        is_active: user.status == UserStatus::Active,
        kind: "Personal",
        badges: Vec::new(),
        created_time: created_ms,
        history: has_name.then_some(History {
            name: UpdateTime {
                update_time: created_ms,
            },
        }),
        about_me: None,
        job_title: None,
        company_name: None,
    }
}

/// The profile JSON inside a signed profile (§10), members in the SDK's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkProfile {
    pub request_nonce: String,
    pub phone_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    pub gender: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<String>,
    pub country_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    pub is_true_name: bool,
    pub is_ambassador: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Unix seconds.
    pub request_time: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
}

/// The profile of `user` for the app whose app key is `app_key` (and, when it has one, whose
/// Android package is `package_name`), answering `request_nonce` at `now`.
pub fn sdk_profile(
    user: &User,
    app_key: &str,
    package_name: Option<&str>,
    request_nonce: &str,
    now: UnixTime,
) -> SdkProfile {
    let a = address_of(user);
    let part = |f: fn(&Address) -> &Option<String>| a.and_then(|a| f(a).clone());
    SdkProfile {
        request_nonce: request_nonce.to_string(),
        phone_number: user.phone_e164.clone(),
        first_name: user.given_name.clone(),
        last_name: user.family_name.clone(),
        gender: sdk_gender(user.gender.as_deref()),
        street: part(|a| &a.street_address),
        city: part(|a| &a.locality),
        zipcode: part(|a| &a.postal_code),
        country_code: country_code(user),
        email: user.email.clone(),
        url: None,
        avatar_url: user.picture.clone(),
        is_true_name: false,
        is_ambassador: false,
        company_name: None,
        job_title: None,
        request_time: now,
        verifier: package_name.map(|p| verifier(app_key, p)),
    }
}

/// The signed profile's `payload`: standard base64 (with padding) of the profile's JSON.
pub fn payload(profile: &SdkProfile) -> String {
    // A struct of strings, numbers and booleans always serialises.
    STANDARD.encode(serde_json::to_vec(profile).unwrap_or_default())
}

#[cfg(test)]
mod tests;
