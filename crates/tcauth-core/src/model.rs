//! The records tcauth keeps. The store persists exactly these; secrets appear only as
//! [`TokenHash`]es.

use crate::scope::ScopeSet;
use crate::secret::TokenHash;
use serde::{Deserialize, Serialize};

/// Unix time in whole seconds.
pub type UnixTime = i64;

/// The grants a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 2] = [GrantType::AuthorizationCode, GrantType::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// A per-client token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// An app registered with tcauth: a public client (no secret), as Truecaller's are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: ScopeSet,
    pub grant_types: Vec<GrantType>,
    pub rate_limit: Option<RateLimit>,
    pub created_at: UnixTime,
    /// How the consent page looks for this app; `None`: the defaults.
    pub branding: Option<Branding>,
    /// Truecaller's `appKey` (`partnerKey` in the Mobile Websites deep link): a public
    /// identifier, generated at creation, unique, never changed.
    pub app_key: String,
    /// Where the Mobile Websites flow POSTs its result (CONTRACT.md §9).
    pub callback_url: Option<String>,
    /// The random salt of the callback signing secret, new each time `callback_url` is set.
    /// The secret itself is never stored: the server derives it from its own secret and this
    /// salt (`tcauth_server::callbacks::secret`), so a copy of the database alone cannot sign.
    pub callback_salt: Option<String>,
    /// The Android package name of the SDK v2.8 signed profile's `verifier` (§10).
    pub package_name: Option<String>,
    /// Unix milliseconds of the last change; each change moves it forward by at least 1 ms,
    /// so nodes that poll it see every change (`Store::clients_revision`).
    pub updated_at_ms: i64,
    /// `test` or `live` (CONTRACT.md §11): a test client signs in only its registered test
    /// numbers. Only ever moves from test to live (`Store::set_client_live`).
    pub mode: ClientMode,
}

/// A client's mode (CONTRACT.md §11). `Live` unless created with `"mode":"test"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMode {
    Test,
    #[default]
    Live,
}

impl ClientMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMode::Test => "test",
            ClientMode::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(ClientMode::Test),
            "live" => Some(ClientMode::Live),
            _ => None,
        }
    }
}

/// A registered test number of a test client (CONTRACT.md §11): signing in with it sends no
/// message, and `otp` is its one-time code. A test fixture, not a secret, but never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct TestNumber {
    pub client_id: String,
    /// E.164.
    pub phone_e164: String,
    /// Exactly 6 digits.
    pub otp: String,
    pub created_at: UnixTime,
}

impl std::fmt::Debug for TestNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNumber")
            .field("client_id", &self.client_id)
            .field("phone_e164", &self.phone_e164)
            .field("otp", &"…")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Client {
    pub fn is_test(&self) -> bool {
        self.mode == ClientMode::Test
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Blocked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserStatus::Active),
            "blocked" => Some(UserStatus::Blocked),
            _ => None,
        }
    }
}

/// A postal address (OpenID Connect Core §5.1.1), any part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "an object such as {\"locality\":\"Bengaluru\",\"postal_code\":\"560001\"}")]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self == &Address::default()
    }
}

/// A person, identified by their phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable, random, positive; shown as a decimal string.
    pub sub: i64,
    /// E.164, e.g. `+919876543210`. Unique.
    pub phone_e164: String,
    /// ISO 3166 alpha-2 region of the number, e.g. `IN`.
    pub phone_country: String,
    pub phone_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
    pub gender: Option<String>,
    pub address: Option<Address>,
    pub status: UserStatus,
    pub created_at: UnixTime,
}

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub hash: TokenHash,
    /// Every token issued from this code, and from refreshing those, shares this id.
    pub family_id: String,
    pub client_id: String,
    pub sub: i64,
    pub scopes: ScopeSet,
    pub code_challenge: String,
    pub redirect_uri: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
    /// Set once: on redemption, or when a bad verifier burnt it.
    pub consumed_at: Option<UnixTime>,
}

/// An access token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub hash: TokenHash,
    pub family_id: String,
    pub client_id: String,
    pub sub: i64,
    pub scopes: ScopeSet,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked: bool,
}

/// A refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: TokenHash,
    pub family_id: String,
    pub client_id: String,
    pub sub: i64,
    /// The scopes of the original grant; refreshing may narrow the access token's, not these.
    pub scopes: ScopeSet,
    pub auth_time: UnixTime,
    pub issued_at: UnixTime,
    /// Absolute end of the family: rotation never extends it.
    pub expires_at: UnixTime,
    /// Set when it was rotated (used once).
    pub used_at: Option<UnixTime>,
    pub revoked: bool,
}

/// What a successful grant writes, all in one transaction.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access: AccessToken,
    pub refresh: Option<RefreshToken>,
}

/// An RS256 signing key as stored: the private half encrypted with the server secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// AES-256-GCM(nonce || ciphertext) of the PKCS#1 DER private key.
    pub private_key_sealed: Vec<u8>,
    /// Big-endian modulus and exponent, for the JWKS.
    pub public_n: Vec<u8>,
    pub public_e: Vec<u8>,
    pub created_at: UnixTime,
    /// Exactly one key is current: it signs. The others are published only.
    pub current: bool,
}

/// What a one-time code is for; the SMS gateway is told (`"login"` or `"verification"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtpPurpose {
    /// Signing in through the browser pages (CONTRACT.md §5).
    Login,
    /// The phone-verification API (CONTRACT.md §6).
    Verification,
}

impl OtpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpPurpose::Login => "login",
            OtpPurpose::Verification => "verification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(OtpPurpose::Login),
            "verification" => Some(OtpPurpose::Verification),
            _ => None,
        }
    }
}

/// A one-time code sent to a number, as stored: the code only as its keyed MAC
/// ([`crate::otp::mac`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    /// 128 random bits as 32 hex digits: the API's `verificationId`.
    pub id: String,
    pub purpose: OtpPurpose,
    /// E.164, e.g. `+919876543210`.
    pub phone_e164: String,
    /// ISO 3166 alpha-2 region of the number.
    pub phone_country: String,
    /// Who may check the code: the client_id for the API; the hex SHA-256 of the browser
    /// session id for the pages ([`crate::otp::session_binding`]).
    pub binding: String,
    /// HMAC-SHA256 of the code bound to `id` and `phone_e164`.
    pub code_mac: [u8; 32],
    /// Wrong tries left; at 0 the code is burnt.
    pub attempts_left: u8,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// Set once, when the right code was presented (or the challenge was withdrawn).
    pub consumed_at: Option<UnixTime>,
}

/// The single-use token the verification API returns (`accessToken`), as stored: its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationToken {
    pub hash: TokenHash,
    /// The client that verified the number; only it may read the number back.
    pub client_id: String,
    pub phone_e164: String,
    pub phone_country: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// Set when it was read back (phoneNumberDetail).
    pub used_at: Option<UnixTime>,
}

/// How an app's consent page looks: the options the Truecaller SDK offers apps. Every field
/// has a default, so an app without branding gets "Login to <app>" and `Allow` / `Deny`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    pub heading: Heading,
    pub button_text: ButtonText,
    /// `#RRGGBB`; `None`: the page's own colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button_color: Option<String>,
    pub button_shape: ButtonShape,
    /// https URLs shown under the buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_url: Option<String>,
}

/// The consent page's heading, before the app's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Heading {
    #[default]
    LoginTo,
    SignUpWith,
    ProceedWith,
    ContinueWith,
}

impl Heading {
    pub const ALL: [Heading; 4] = [
        Heading::LoginTo,
        Heading::SignUpWith,
        Heading::ProceedWith,
        Heading::ContinueWith,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Heading::LoginTo => "login_to",
            Heading::SignUpWith => "sign_up_with",
            Heading::ProceedWith => "proceed_with",
            Heading::ContinueWith => "continue_with",
        }
    }

    /// The words shown before the app's name.
    pub fn words(self) -> &'static str {
        match self {
            Heading::LoginTo => "Login to",
            Heading::SignUpWith => "Sign up with",
            Heading::ProceedWith => "Proceed with",
            Heading::ContinueWith => "Continue with",
        }
    }
}

/// The label of the consent button (the other one always says `Deny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonText {
    Continue,
    Proceed,
    Accept,
    #[default]
    Allow,
}

impl ButtonText {
    pub const ALL: [ButtonText; 4] = [
        ButtonText::Continue,
        ButtonText::Proceed,
        ButtonText::Accept,
        ButtonText::Allow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ButtonText::Continue => "continue",
            ButtonText::Proceed => "proceed",
            ButtonText::Accept => "accept",
            ButtonText::Allow => "allow",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            ButtonText::Continue => "Continue",
            ButtonText::Proceed => "Proceed",
            ButtonText::Accept => "Accept",
            ButtonText::Allow => "Allow",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonShape {
    #[default]
    Rounded,
    Rectangle,
}

impl ButtonShape {
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonShape::Rounded => "rounded",
            ButtonShape::Rectangle => "rectangle",
        }
    }
}

/// Where a Mobile Websites callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued; attempted when `next_attempt_at` comes.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: the token expired first, or the URL was refused for good.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One POST of the Mobile Websites flow to a client's callback URL (CONTRACT.md §9), as kept
/// in the store's outbox until it is delivered or given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackDelivery {
    /// Random; the `X-Tcauth-Delivery` header of every attempt.
    pub id: String,
    pub client_id: String,
    /// The deep link's `requestNonce`.
    pub request_id: String,
    /// The callback URL when it was queued.
    pub url: String,
    /// The JSON body, sealed by the server (it may carry an access token): the store never
    /// sees it in clear.
    pub body_sealed: Vec<u8>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// Why the last attempt failed (never the body or the token).
    pub last_error: Option<String>,
    /// Unix milliseconds of the next attempt (pending only).
    pub next_attempt_at_ms: i64,
    /// Unix seconds after which no attempt is made (the token's expiry).
    pub expires_at: UnixTime,
    pub created_at: UnixTime,
    pub delivered_at: Option<UnixTime>,
}

/// What one delivery attempt came to ([`CallbackDelivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        at: UnixTime,
    },
    /// Failed; try again at `next_attempt_at_ms`.
    Retry {
        error: String,
        next_attempt_at_ms: i64,
    },
    /// Failed for good.
    Failed {
        error: String,
    },
}
