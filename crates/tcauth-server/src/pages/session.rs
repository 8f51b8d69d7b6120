//! The interaction: the state of one sign-in, from `/v1/auth` to the redirect back to the app,
//! kept in a cookie sealed with AES-256-GCM under a key derived from the server secret.
//!
//! The browser holds the state but can neither read nor change it: the cookie's name is the
//! associated data and any edit fails authentication. Every node with the same secret can open
//! it, so no session store is needed while the sign-in runs. Its end is kept server-side:
//! Allow or Deny records the interaction as finished in the store (a hash of its id, until
//! it would have expired; [`Interaction::finish_key`]), in the same transaction as the code,
//! so a replayed cookie gets the "sign-in expired" page and never a second code; one-time
//! codes themselves are single use in the store too.

use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use tcauth_core::secret::{ct_eq, hmac_sha256, new_id, random_bytes, TokenHash};

/// How long a sign-in may take, from `/v1/auth` to Allow or Deny.
pub const INTERACTION_TTL: i64 = 600;

/// How long a finished interaction's key outlives the interaction itself, for nodes whose
/// clocks run behind the sweeper's: a cookie is open (by its own `expires_at`) on a node at
/// most this far behind until its key is swept.
pub const FINISHED_MARGIN: i64 = 300;

/// Longest cookie value we write (browsers keep at least 4096 bytes of name and value).
pub const MAX_COOKIE: usize = 4000;

/// Where the sign-in is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Asking for the phone number.
    Phone,
    /// A code was sent; asking for it.
    Code,
    /// The number is verified and new: asking for a name.
    Name,
    /// The user is known: asking for consent.
    Consent,
}

impl Stage {
    /// The page that shows this stage.
    pub fn path(self) -> &'static str {
        match self {
            Stage::Phone => "/v1/auth/phone",
            Stage::Code => "/v1/auth/code",
            Stage::Name => "/v1/auth/name",
            Stage::Consent => "/v1/auth/consent",
        }
    }
}

/// One sign-in in progress.
#[derive(Clone, Serialize, Deserialize)]
pub struct Interaction {
    /// 128 random bits; the family id of what is issued, and (hashed) the OTP binding.
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Canonical scope string.
    pub scopes: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub stage: Stage,
    /// E.164 of the number being verified, once entered.
    pub phone: Option<String>,
    /// Its ISO 3166 region.
    pub country: Option<String>,
    /// The one-time-code challenge sent to `phone`.
    pub challenge: Option<String>,
    /// When a new code may be asked for.
    pub resend_at: Option<i64>,
    /// The user, once known.
    pub sub: Option<i64>,
    /// When the number was verified.
    pub auth_time: Option<i64>,
    /// The per-interaction CSRF token every form carries.
    pub csrf: String,
    /// A one-shot notice for the next page ("We sent a new code").
    pub notice: Option<Notice>,
    pub created_at: i64,
    pub expires_at: i64,
    /// A Mobile Websites dialog (`/v1/web/verify`, CONTRACT.md §9): its request and options.
    /// `None` for an OAuth sign-in (`/v1/auth`); then the consent stage is the OAuth consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<super::dialog::WebRequest>,
}

/// Messages carried across a 303.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    CodeResent,
}

/// Everything `/v1/auth` validated.
pub struct Authorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

impl Interaction {
    pub fn new(a: Authorization, now: i64) -> Self {
        Interaction {
            id: new_id(),
            client_id: a.client_id,
            redirect_uri: a.redirect_uri,
            scopes: a.scopes,
            state: a.state,
            nonce: a.nonce,
            code_challenge: a.code_challenge,
            stage: Stage::Phone,
            phone: None,
            country: None,
            challenge: None,
            resend_at: None,
            sub: None,
            auth_time: None,
            csrf: new_id(),
            notice: None,
            created_at: now,
            expires_at: now + INTERACTION_TTL,
            web: None,
        }
    }

    /// A Mobile Websites dialog for `client_id`: no redirect URI or PKCE (the result goes to
    /// the client's callback URL), the scopes of Truecaller's profile share.
    pub fn new_web(client_id: String, web: super::dialog::WebRequest, now: i64) -> Self {
        let mut ix = Interaction::new(
            Authorization {
                client_id,
                redirect_uri: String::new(),
                scopes: super::dialog::WEB_SCOPES.to_string(),
                state: None,
                nonce: None,
                code_challenge: String::new(),
            },
            now,
        );
        ix.web = Some(web);
        ix
    }

    /// Whether `token` (a form's hidden `csrf` field) is this interaction's, in constant time.
    pub fn csrf_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| ct_eq(t.as_bytes(), self.csrf.as_bytes()))
    }

    /// The key under which the store records this interaction as finished: HMAC-SHA256 of
    /// the id under a fixed label (not the id in clear, and not the one-time codes' binding).
    pub fn finish_key(&self) -> TokenHash {
        TokenHash(hmac_sha256(
            b"tcauth/v1/finished-interaction",
            self.id.as_bytes(),
        ))
    }

    /// Until when the store keeps [`Interaction::finish_key`] (then the sweeper deletes it).
    pub fn finish_kept_until(&self) -> i64 {
        self.expires_at + FINISHED_MARGIN
    }

    /// The binding of this interaction's one-time codes.
    pub fn otp_binding(&self) -> String {
        tcauth_core::otp::session_binding(&self.id)
    }
}

/// Why no interaction could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No cookie, or one that does not open (another secret, tampered, truncated).
    Absent,
    /// A genuine interaction past its expiry.
    Expired,
}

/// The cookie's name: `__Host-` prefixed (which browsers accept only with `Secure`, `Path=/`
/// and no `Domain`) when the issuer is https.
pub fn cookie_name(app: &AppState) -> &'static str {
    if is_https(app) {
        "__Host-tcauth_interaction"
    } else {
        "tcauth_interaction"
    }
}

pub fn is_https(app: &AppState) -> bool {
    app.settings.issuer.starts_with("https://")
}

fn key(secret: &[u8]) -> LessSafeKey {
    let k = hmac_sha256(secret, b"tcauth/v1/interaction");
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).expect("32-byte key"))
}

/// `base64url(nonce ‖ AES-256-GCM(json))`, the cookie name as associated data.
pub fn seal(app: &AppState, ix: &Interaction) -> String {
    let json = serde_json::to_vec(ix).expect("an interaction serialises");
    seal_bytes(&app.settings.secret.0, cookie_name(app), json)
}

/// `base64url(nonce ‖ AES-256-GCM(plain))` under the key of `secret`, `name` as associated
/// data: the sealing of [`seal`], for any plaintext (the fuzz target `session_cookie` seals
/// hostile JSON with it to reach the parsing behind the authentication).
pub fn seal_bytes(secret: &[u8], name: &str, mut plain: Vec<u8>) -> String {
    let nonce = random_bytes::<12>();
    key(secret)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name.as_bytes()),
            &mut plain,
        )
        .expect("AES-GCM seal cannot fail for in-range lengths");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&plain);
    URL_SAFE_NO_PAD.encode(out)
}

fn open(secret: &[u8], name: &str, value: &str) -> Option<Interaction> {
    if value.len() > MAX_COOKIE {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = ct.to_vec();
    let plain = key(secret)
        .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buf)
        .ok()?;
    serde_json::from_slice(plain).ok()
}

/// The interaction of this request, if its cookie opens and has not expired.
pub fn read(app: &AppState, headers: &HeaderMap, now: i64) -> Result<Interaction, Missing> {
    read_with(&app.settings.secret.0, cookie_name(app), headers, now)
}

/// [`read`] with the server secret and the cookie name given (the fuzz target
/// `session_cookie` enters here).
pub fn read_with(
    secret: &[u8],
    name: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<Interaction, Missing> {
    let mut expired = false;
    for value in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
    {
        match open(secret, name, value) {
            Some(ix) if ix.expires_at > now => return Ok(ix),
            Some(_) => expired = true,
            None => {}
        }
    }
    Err(if expired {
        Missing::Expired
    } else {
        Missing::Absent
    })
}

/// `Set-Cookie` for `ix`, living until the interaction expires.
pub fn set_cookie(app: &AppState, ix: &Interaction, now: i64) -> HeaderValue {
    cookie(app, &seal(app, ix), (ix.expires_at - now).max(0))
}

/// `Set-Cookie` that deletes the interaction (after Allow or Deny).
pub fn clear_cookie(app: &AppState) -> HeaderValue {
    cookie(app, "", 0)
}

fn cookie(app: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if is_https(app) { "; Secure" } else { "" };
    let s = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(app)
    );
    HeaderValue::from_str(&s).expect("cookie values are base64url")
}
