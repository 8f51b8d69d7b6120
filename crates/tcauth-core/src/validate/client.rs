//! A client as an operator describes it ([`NewClient`]) or changes it ([`ClientPatch`]). Both
//! check each field with the same function, so a field has one rule whichever way it comes.

use super::*;
use crate::model::{Client, ClientMode, GrantType, RateLimit, UnixTime};
use crate::scope::ScopeSet;
use crate::secret::new_id;
use serde::{Deserialize, Deserializer};

/// The longest Android package name accepted (Android allows 255 bytes per segment, but no
/// published app comes near this).
pub const MAX_PACKAGE_NAME: usize = 255;

/// A client as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub branding: Option<NewBranding>,
    /// CONTRACT.md §9.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// CONTRACT.md §10.
    #[serde(default)]
    pub package_name: Option<String>,
    /// CONTRACT.md §11: `"test"` or `"live"` (the default).
    #[serde(default)]
    pub mode: Option<String>,
}

/// The fields `PATCH /admin/v1/clients/{id}` may change; absent fields stay. `callback_url`,
/// `package_name` and `rate_limit` may be `null`, which clears them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub rate_limit: Option<Option<RateLimit>>,
    #[serde(default, deserialize_with = "nullable")]
    pub callback_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub package_name: Option<Option<String>>,
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value (absent: the default `None`).
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A new client's mode: `"test"` or `"live"`; absent is live.
fn mode(m: Option<&str>) -> Result<ClientMode, FieldError> {
    match m {
        None => Ok(ClientMode::Live),
        Some(s) => ClientMode::parse(s)
            .ok_or_else(|| FieldError::new("mode", "must be \"test\" or \"live\"")),
    }
}

/// A new client's app key: 128 random bits, hex (Truecaller's `appKey`/`partnerKey`).
pub fn new_app_key() -> String {
    new_id()
}

impl NewClient {
    /// Checks every field and builds the client record with the given id and time (a new app
    /// key, and a callback salt when a callback URL is given).
    pub fn validate(self, client_id: String, now: UnixTime) -> Result<Client, FieldError> {
        let branding = match self.branding {
            Some(b) => Some(
                b.validate()
                    .map_err(|e| FieldError::new(format!("branding.{}", e.field), e.message))?,
            ),
            None => None,
        };
        let callback_url = callback_url(self.callback_url)?;
        Ok(Client {
            client_id,
            name: name(&self.name)?,
            redirect_uris: redirect_uris(self.redirect_uris)?,
            scopes: scopes(&self.scopes)?,
            grant_types: grant_types(&self.grant_types)?,
            rate_limit: rate_limit(self.rate_limit)?,
            created_at: now,
            branding,
            app_key: new_app_key(),
            callback_salt: callback_url.as_ref().map(|_| new_id()),
            callback_url,
            package_name: package_name(self.package_name)?,
            updated_at_ms: now.saturating_mul(1000),
            mode: mode(self.mode.as_deref())?,
        })
    }
}

impl ClientPatch {
    /// Applies the patch to `client` after checking every field given (on an error `client`
    /// is unchanged). Setting `callback_url` (even to the same URL) draws a new callback salt,
    /// so a new callback secret; clearing it drops the salt. `updated_at_ms` becomes `now_ms`,
    /// or 1 ms past its old value if that is not earlier. Returns whether a callback URL was
    /// set (the caller then shows the new secret, once).
    pub fn apply(self, client: &mut Client, now_ms: i64) -> Result<bool, FieldError> {
        let mut c = client.clone();
        if let Some(n) = &self.name {
            c.name = name(n)?;
        }
        if let Some(u) = self.redirect_uris {
            c.redirect_uris = redirect_uris(u)?;
        }
        if let Some(s) = &self.scopes {
            c.scopes = scopes(s)?;
        }
        if let Some(g) = &self.grant_types {
            c.grant_types = grant_types(g)?;
        }
        if let Some(r) = self.rate_limit {
            c.rate_limit = rate_limit(r)?;
        }
        let mut callback_set = false;
        if let Some(u) = self.callback_url {
            c.callback_url = callback_url(u)?;
            callback_set = c.callback_url.is_some();
            c.callback_salt = c.callback_url.as_ref().map(|_| new_id());
        }
        if let Some(p) = self.package_name {
            c.package_name = package_name(p)?;
        }
        c.updated_at_ms = now_ms.max(client.updated_at_ms.saturating_add(1));
        *client = c;
        Ok(callback_set)
    }
}

fn name(n: &str) -> Result<String, FieldError> {
    let name = n.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            format!("must be 1–{MAX_NAME} printable characters"),
        ));
    }
    Ok(name)
}

fn redirect_uris(uris: Vec<String>) -> Result<Vec<String>, FieldError> {
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(FieldError::new(
            "redirect_uris",
            format!("must list 1–{MAX_REDIRECT_URIS} URIs"),
        ));
    }
    for (i, u) in uris.iter().enumerate() {
        if let Err(m) = check_redirect_uri(u) {
            return Err(FieldError::new(format!("redirect_uris[{i}]"), m));
        }
    }
    Ok(uris)
}

fn scopes(names: &[String]) -> Result<ScopeSet, FieldError> {
    let scopes =
        ScopeSet::from_names(names).map_err(|e| FieldError::new("scopes", e.to_string()))?;
    if scopes.is_empty() {
        return Err(FieldError::new("scopes", "must list at least one scope"));
    }
    Ok(scopes)
}

fn grant_types(names: &[String]) -> Result<Vec<GrantType>, FieldError> {
    let mut grant_types = Vec::new();
    for g in names {
        let gt = GrantType::parse(g).ok_or_else(|| {
            FieldError::new(
                "grant_types",
                format!(
                    "unknown grant type {:?}; use authorization_code and/or refresh_token",
                    g.chars().take(64).collect::<String>()
                ),
            )
        })?;
        if !grant_types.contains(&gt) {
            grant_types.push(gt);
        }
    }
    if grant_types.is_empty() {
        return Err(FieldError::new(
            "grant_types",
            "must list at least one grant type",
        ));
    }
    Ok(grant_types)
}

fn rate_limit(rl: Option<RateLimit>) -> Result<Option<RateLimit>, FieldError> {
    if let Some(rl) = rl {
        if rl.per_second == 0 || rl.per_second > MAX_RATE {
            return Err(FieldError::new(
                "rate_limit.per_second",
                format!("must be 1–{MAX_RATE}"),
            ));
        }
        if rl.burst == 0 || rl.burst > MAX_RATE {
            return Err(FieldError::new(
                "rate_limit.burst",
                format!("must be 1–{MAX_RATE}"),
            ));
        }
    }
    Ok(rl)
}

fn callback_url(u: Option<String>) -> Result<Option<String>, FieldError> {
    match u {
        None => Ok(None),
        Some(u) => check_callback_url(&u)
            .map(|()| Some(u))
            .map_err(|m| FieldError::new("callback_url", m)),
    }
}

fn package_name(p: Option<String>) -> Result<Option<String>, FieldError> {
    match p {
        None => Ok(None),
        Some(p) => check_package_name(&p)
            .map(|()| Some(p))
            .map_err(|m| FieldError::new("package_name", m)),
    }
}

/// An Android application id: at least two dot-separated segments, each a letter followed by
/// letters, digits or `_` (`com.example.app`), at most [`MAX_PACKAGE_NAME`] characters.
pub fn check_package_name(p: &str) -> Result<(), String> {
    let segment_ok = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if p.len() > MAX_PACKAGE_NAME || p.split('.').count() < 2 || !p.split('.').all(segment_ok) {
        return Err(format!(
            "must be an Android package name such as com.example.app (letters, digits and _, \
             at least two segments, at most {MAX_PACKAGE_NAME} characters)"
        ));
    }
    Ok(())
}

/// The fixed one-time code of a test number given without one (CONTRACT.md §11).
pub const DEFAULT_TEST_OTP: &str = "000000";

/// A test number as an operator registers it: `otp` defaults to [`DEFAULT_TEST_OTP`].
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTestNumber {
    pub phone_number: String,
    #[serde(default)]
    pub otp: Option<String>,
}

impl std::fmt::Debug for NewTestNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTestNumber")
            .field("phone_number", &self.phone_number)
            .finish_non_exhaustive()
    }
}

impl NewTestNumber {
    /// The phone number normalised to E.164 and the code checked (exactly 6 ASCII digits).
    pub fn validate(
        self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<crate::model::TestNumber, FieldError> {
        let p = crate::phone::parse(&self.phone_number, None)
            .map_err(|e| FieldError::new("phone_number", e.to_string()))?;
        let otp = self.otp.unwrap_or_else(|| DEFAULT_TEST_OTP.to_string());
        if otp.len() != 6 || !otp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("otp", "must be exactly 6 digits"));
        }
        Ok(crate::model::TestNumber {
            client_id: client_id.to_string(),
            phone_e164: p.e164,
            otp,
            created_at: now,
        })
    }
}
