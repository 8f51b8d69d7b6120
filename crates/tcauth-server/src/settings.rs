//! Everything the server needs to know, validated once and passed explicitly (no globals).
//! The binary builds it from defaults → `tcauth.toml` → `TCAUTH_*` env → flags.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tcauth_core::model::RateLimit;

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The `iss` of tokens and the base of discovery's URLs, without a trailing slash.
    pub issuer: String,
    /// Server secret (≥ 32 bytes): keys every HMAC and seals the signing keys at rest.
    pub secret: Secret,
    /// Bearer token for `/admin`; `None` turns the admin API off (404).
    pub admin_token: Option<Secret>,
    /// Access-token (and id_token) lifetime. Default 3600 s.
    pub access_token_ttl: Duration,
    /// Authorization-code lifetime. Default 60 s, at most 600 s.
    pub code_ttl: Duration,
    /// Absolute lifetime of a refresh-token family. Default 30 days.
    pub refresh_token_ttl: Duration,
    /// Default per-client limit at the token and revocation endpoints. Default 100/s, burst 200.
    pub client_rate_limit: RateLimit,
    /// Limit per caller IP for requests without a client_id. Default 20/s, burst 40.
    pub ip_rate_limit: RateLimit,
    /// Requests being worked on at once before new ones are shed with 503. Default 1024.
    pub max_in_flight: usize,
    /// How long a request waits for the store before answering 503. Default 2 s.
    pub store_timeout: Duration,
    /// How often the sweeper deletes expired rows. Default 60 s.
    pub sweep_interval: Duration,
    /// Rows per kind the sweeper deletes per round. Default 1000.
    pub sweep_batch: usize,
    /// How often signing keys and per-client limits are re-read from the store. Default 10 s.
    pub reload_interval: Duration,
}

pub const MAX_CODE_TTL: Duration = Duration::from_secs(600);

impl Settings {
    /// Defaults for everything but the secret, which the caller must supply.
    pub fn new(secret: Secret) -> Self {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        Settings {
            listen,
            issuer: format!("http://{listen}"),
            secret,
            admin_token: None,
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            client_rate_limit: RateLimit {
                per_second: 100,
                burst: 200,
            },
            ip_rate_limit: RateLimit {
                per_second: 20,
                burst: 40,
            },
            max_in_flight: 1024,
            store_timeout: Duration::from_secs(2),
            sweep_interval: Duration::from_secs(60),
            sweep_batch: 1000,
            reload_interval: Duration::from_secs(10),
        }
    }

    /// Checks the bounds; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.secret.0.len() < 32 {
            return Err("the server secret must be at least 32 bytes (TCAUTH_SECRET)".into());
        }
        if self.code_ttl.is_zero() || self.code_ttl > MAX_CODE_TTL {
            return Err("code_ttl must be 1–600 seconds".into());
        }
        if self.access_token_ttl.is_zero() || self.refresh_token_ttl.is_zero() {
            return Err("token lifetimes must be at least 1 second".into());
        }
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://"))
            || self.issuer.ends_with('/')
            || self.issuer.contains(['?', '#'])
        {
            return Err(format!(
                "issuer {:?} must be an http(s) URL without a trailing slash, query or fragment",
                self.issuer
            ));
        }
        if let Some(t) = &self.admin_token {
            if t.0.len() < 16 {
                return Err("the admin token must be at least 16 characters".into());
            }
        }
        if self.max_in_flight == 0
            || self.store_timeout.is_zero()
            || self.sweep_batch == 0
            || self.sweep_interval.is_zero()
            || self.reload_interval.is_zero()
        {
            return Err(
                "max_in_flight, store_timeout, sweep_batch, sweep_interval and reload_interval \
                 must be positive"
                    .into(),
            );
        }
        const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
        if self.access_token_ttl > TEN_YEARS || self.refresh_token_ttl > TEN_YEARS {
            return Err("token lifetimes must be at most 10 years".into());
        }
        for (name, rl) in [("rate_limit", self.client_rate_limit), ("ip_rate_limit", self.ip_rate_limit)] {
            if rl.per_second == 0 || rl.burst == 0 {
                return Err(format!("{name} per_second and burst must be positive"));
            }
        }
        Ok(())
    }
}
