//! Everything the server needs to know, validated once and passed explicitly (no globals).
//! The binary builds it from defaults → `tcauth.toml` → `TCAUTH_*` env → flags.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tcauth_core::model::RateLimit;

pub use crate::ip::Network;

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where one-time codes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpSenderConfig {
    /// Written to the server log at WARN: for development only (the default).
    Log,
    /// POSTed as signed JSON to an SMS gateway (`TCAUTH_OTP_WEBHOOK_URL`,
    /// `TCAUTH_OTP_WEBHOOK_SECRET`; CONTRACT.md §5).
    Webhook { url: String, secret: Secret },
}

/// At most `max` sends per `period` (a sliding window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    pub max: u32,
    pub period: Duration,
}

/// Limits on sending one-time codes, against SMS pumping (checklist O7–O9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpSendLimits {
    /// Wait between two codes to one number. Default 30 s; zero turns it off.
    pub resend_cooldown: Duration,
    /// Per number. Default 5 per 10 minutes.
    pub per_number: SendWindow,
    /// Per caller IP (IPv6: per /64). Default 10 per hour.
    pub per_ip: SendWindow,
    /// Per country of the number. Default 200 per hour.
    pub per_country: SendWindow,
    /// Per client (the app asking): one client cannot use up a country's sends for the
    /// others. Default 100 per hour.
    pub per_client: SendWindow,
    /// Wrong codes per number, across resends (checklist O6): past this, the number takes no
    /// code and no check until its oldest failure leaves the window. Default 10 per 24 hours.
    pub wrong_codes_per_number: SendWindow,
}

impl Default for OtpSendLimits {
    fn default() -> Self {
        let w = |max, secs| SendWindow {
            max,
            period: Duration::from_secs(secs),
        };
        OtpSendLimits {
            resend_cooldown: Duration::from_secs(30),
            per_number: w(5, 600),
            per_ip: w(10, 3600),
            per_country: w(200, 3600),
            per_client: w(100, 3600),
            wrong_codes_per_number: w(10, 24 * 3600),
        }
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
    /// How often each node asks the store whether any client changed
    /// (`Store::clients_revision`, one cheap query) and, when it did, re-reads the per-client
    /// caches (rate limits), so a change made on any node or by the CLI applies everywhere
    /// within 1 s. Default 250 ms; [`CLIENTS_POLL_BOUNDS`].
    pub clients_poll_interval: Duration,
    /// Where one-time codes are sent. Default: the log (development only).
    pub otp_sender: OtpSenderConfig,
    /// Lifetime of a one-time code. Default 300 s, at most 600 s.
    pub otp_ttl: Duration,
    /// Send limits for one-time codes.
    pub otp_send_limits: OtpSendLimits,
    /// Country preselected on the sign-in page's phone-number form (ISO 3166 alpha-2).
    /// Default `IN`.
    pub default_country: String,
    /// Redis holding the counters every node must share (`redis://[user:password@]host[:port]
    /// [/db]`): the request rate limits and the one-time-code send limits. `None` (the
    /// default) keeps them in this process. May carry a password: never log it.
    pub redis_url: Option<String>,
    /// Longest wait for one Redis call (connection included) before the rate limits fall back
    /// to this process's buckets and one-time-code sends are refused. Default 150 ms.
    pub redis_timeout: Duration,
    /// Prefix of every Redis key. Default `tcauth:`.
    pub redis_prefix: String,
    /// Connections (see [`crate::listener`]).
    pub connections: ConnectionLimits,
    /// Address ranges Mobile Websites callbacks may not be sent to, besides the link-local
    /// ranges that are always refused (`crate::callbacks::guard`). Default none; in
    /// production, loopback and the private networks.
    pub callback_deny_networks: Vec<Network>,
    /// How often each node looks for due callback deliveries. Default 200 ms (10 ms to 10 s).
    pub callback_poll_interval: Duration,
    /// The first retry's delay after a failed callback attempt; each next one doubles, up to
    /// 60 s, with jitter. Default 1 s (10 ms to 60 s).
    pub callback_retry_base: Duration,
}

/// Connection hygiene: the timeouts and caps the accept loop keeps ([`crate::listener`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest time a client may take to send a request head (request line and headers),
    /// counted from the connection's opening for its first request and from the head's first
    /// byte after that. Default 10 s.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in progress and no byte moving either way for
    /// this long is closed. Default 120 s: longer than the idle timeouts of the usual client
    /// pools (90 s in Go's net/http and hyper/reqwest) and load balancers (60 s on AWS ALB,
    /// nginx's upstream 60 s), so they close first and never send into a closing socket.
    pub idle_timeout: Duration,
    /// Connections open at once; the next is closed right after accept. Default 10,000 (keep it
    /// below the process's open-file limit, `ulimit -n`, less a few hundred).
    pub max_connections: usize,
    /// Connections open at once from one IPv4 address or one IPv6 /64. Default 512 (a
    /// carrier-grade NAT puts many users behind one address; behind a reverse proxy, every
    /// connection comes from the proxy: set it to `max_connections`).
    pub max_connections_per_ip: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 10_000,
            max_connections_per_ip: 512,
        }
    }
}

impl ConnectionLimits {
    fn validate(&self) -> Result<(), String> {
        const HOUR: Duration = Duration::from_secs(3600);
        let c = self;
        if c.header_read_timeout < Duration::from_millis(100) || c.header_read_timeout > HOUR {
            return Err("header_read_timeout must be 0.1 s to one hour".into());
        }
        if c.idle_timeout < Duration::from_millis(100) || c.idle_timeout > HOUR {
            return Err("idle_timeout must be 0.1 s to one hour".into());
        }
        if c.max_connections == 0 || c.max_connections > 1_000_000 {
            return Err("max_connections must be 1 to 1,000,000".into());
        }
        if c.max_connections_per_ip == 0 || c.max_connections_per_ip > c.max_connections {
            return Err("max_connections_per_ip must be 1 to max_connections".into());
        }
        Ok(())
    }
}

pub const MAX_CODE_TTL: Duration = Duration::from_secs(600);

/// The range of `clients_poll_interval`: often enough that a client change reaches every node
/// within 1 s, not so often that idle nodes load the store.
pub const CLIENTS_POLL_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_millis(900));

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
            clients_poll_interval: Duration::from_millis(250),
            otp_sender: OtpSenderConfig::Log,
            otp_ttl: Duration::from_secs(tcauth_core::otp::DEFAULT_TTL_SECS),
            otp_send_limits: OtpSendLimits::default(),
            default_country: "IN".into(),
            redis_url: None,
            redis_timeout: Duration::from_millis(150),
            redis_prefix: "tcauth:".into(),
            connections: ConnectionLimits::default(),
            callback_deny_networks: Vec::new(),
            callback_poll_interval: Duration::from_millis(200),
            callback_retry_base: Duration::from_secs(1),
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
        let (lo, hi) = CLIENTS_POLL_BOUNDS;
        if self.clients_poll_interval < lo || self.clients_poll_interval > hi {
            return Err(format!(
                "clients_poll_ms must be {}–{}",
                lo.as_millis(),
                hi.as_millis()
            ));
        }
        const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
        if self.access_token_ttl > TEN_YEARS || self.refresh_token_ttl > TEN_YEARS {
            return Err("token lifetimes must be at most 10 years".into());
        }
        for (name, rl) in [
            ("rate_limit", self.client_rate_limit),
            ("ip_rate_limit", self.ip_rate_limit),
        ] {
            if rl.per_second == 0 || rl.burst == 0 {
                return Err(format!("{name} per_second and burst must be positive"));
            }
        }
        if !tcauth_core::phone::is_known_country(&self.default_country) {
            return Err(format!(
                "default_country {:?} must be an upper-case ISO 3166 alpha-2 code such as IN",
                self.default_country
            ));
        }
        self.validate_otp()?;
        self.validate_redis()?;
        self.validate_callbacks()?;
        self.connections.validate()
    }

    fn validate_callbacks(&self) -> Result<(), String> {
        let (lo, hi) = (Duration::from_millis(10), Duration::from_secs(10));
        if self.callback_poll_interval < lo || self.callback_poll_interval > hi {
            return Err("callback_poll_interval_ms must be 10 to 10000".into());
        }
        let hi = Duration::from_secs(60);
        if self.callback_retry_base < lo || self.callback_retry_base > hi {
            return Err("callback_retry_base_ms must be 10 to 60000".into());
        }
        if self.callback_deny_networks.len() > 1000 {
            return Err("callback_deny_networks may list at most 1000 ranges".into());
        }
        Ok(())
    }

    fn validate_redis(&self) -> Result<(), String> {
        if self.redis_timeout.is_zero() || self.redis_timeout > Duration::from_secs(10) {
            return Err("redis_timeout must be 1 ms to 10 s".into());
        }
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 64
            || self
                .redis_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("redis_prefix must be 1–64 characters without spaces".into());
        }
        if let Some(url) = &self.redis_url {
            check_redis_url(url)?;
        }
        Ok(())
    }

    fn validate_otp(&self) -> Result<(), String> {
        let max_ttl = tcauth_core::otp::MAX_TTL_SECS;
        if self.otp_ttl.is_zero() || self.otp_ttl > Duration::from_secs(max_ttl) {
            return Err(format!("otp_ttl must be 1–{max_ttl} seconds"));
        }
        const DAY: Duration = Duration::from_secs(24 * 3600);
        let l = &self.otp_send_limits;
        if l.resend_cooldown > DAY {
            return Err("otp_resend_cooldown must be at most one day".into());
        }
        for (name, w) in [
            ("otp_sends_per_number", l.per_number),
            ("otp_sends_per_ip", l.per_ip),
            ("otp_sends_per_country", l.per_country),
            ("otp_sends_per_client", l.per_client),
            ("otp_wrong_codes_per_number", l.wrong_codes_per_number),
        ] {
            if w.max == 0 || w.period < Duration::from_secs(1) || w.period > DAY {
                return Err(format!(
                    "{name} must allow at least one send, over a period of 1 s to one day"
                ));
            }
        }
        if let OtpSenderConfig::Webhook { url, secret } = &self.otp_sender {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/'))
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
                || url.contains('#')
            {
                return Err(format!(
                    "TCAUTH_OTP_WEBHOOK_URL {:?} must be an http(s) URL without a fragment",
                    url.chars().take(200).collect::<String>()
                ));
            }
            if secret.0.len() < 16 {
                return Err(
                    "TCAUTH_OTP_WEBHOOK_SECRET must be set, at least 16 bytes, when \
                     TCAUTH_OTP_WEBHOOK_URL is"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// Checks a Redis URL without connecting. The message never repeats the URL (it may carry a
/// password).
pub fn check_redis_url(url: &str) -> Result<(), String> {
    let is_redis = url
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("redis://"));
    if !is_redis {
        return Err(
            "the Redis URL (TCAUTH_REDIS_URL) must start with redis://, e.g. \
             redis://127.0.0.1:6379/0 (TLS is not supported)"
                .into(),
        );
    }
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|_| "the Redis URL (TCAUTH_REDIS_URL) is not a valid redis:// URL".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "redis://127.0.0.1:6379/0",
            "REDIS://cache.internal",
            "redis://:pw@h:6380/2",
        ] {
            assert_eq!(check_redis_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "rediss://u:pw@h",
            "unix:///tmp/r.sock",
            "http://h",
            "h:6379",
            "",
        ] {
            let e = check_redis_url(bad).unwrap_err();
            assert!(!e.contains("pw@"), "{e}");
        }
    }
}
