//! `tcauth.toml`, and layering defaults → `tcauth.toml` → `TCAUTH_*` env → flags into
//! [`Settings`]. Flags and env are resolved by clap (a flag beats its env var); this module
//! puts the file under them and the defaults under the file.

use crate::errors::usage;
use anyhow::Result;
use serde::Deserialize;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tcauth_core::model::RateLimit;
use tcauth_server::settings::{Network, OtpSenderConfig};
use tcauth_server::{Secret, Settings};

/// The config file read when `--config`/`TCAUTH_CONFIG` is not given, if it exists.
pub const DEFAULT_CONFIG: &str = "tcauth.toml";
/// Default data dir, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./tcauth-data";
/// Longest duration accepted in the file: ten years.
const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 3600;

/// What `tcauth.toml` may hold. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_timeout_ms: Option<u64>,
    pub redis_prefix: Option<String>,
    pub postgres: Option<PostgresConfig>,
    pub secret: Option<String>,
    pub admin_token: Option<String>,
    pub access_token_ttl: Option<u64>,
    pub code_ttl: Option<u64>,
    pub refresh_token_ttl: Option<u64>,
    pub max_in_flight: Option<usize>,
    pub store_timeout_ms: Option<u64>,
    pub sweep_interval: Option<u64>,
    pub sweep_batch: Option<usize>,
    pub reload_interval: Option<u64>,
    pub clients_poll_ms: Option<u64>,
    pub rate_limit: Option<RateLimitConfig>,
    pub ip_rate_limit: Option<RateLimitConfig>,
    pub otp_ttl: Option<u64>,
    pub otp_resend_cooldown: Option<u64>,
    pub otp_sends_per_number: Option<u32>,
    pub otp_sends_per_ip: Option<u32>,
    pub otp_sends_per_country: Option<u32>,
    pub otp_sends_per_client: Option<u32>,
    pub otp_wrong_codes_per_number: Option<u32>,
    pub default_country: Option<String>,
    pub callback_deny_networks: Option<Vec<String>>,
    pub callback_poll_interval_ms: Option<u64>,
    pub callback_retry_base_ms: Option<u64>,
    pub connections: Option<ConnectionsConfig>,
}

/// `[connections]`: timeouts and caps of the accept loop; a missing key keeps its default.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsConfig {
    pub header_read_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
}

/// `[postgres]`: the connection pool of a `postgres://` database; a missing key keeps its
/// default.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    pub max_connections: Option<u32>,
    pub connect_timeout_ms: Option<u64>,
    pub wait_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
}

/// `[rate_limit]` and `[ip_rate_limit]`; a missing key keeps its default.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_second: Option<u32>,
    pub burst: Option<u32>,
}

impl FileConfig {
    /// Reads `path` if given (it must exist), else `./tcauth.toml` if it exists, else nothing.
    pub fn load(path: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>)> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG).is_file() => PathBuf::from(DEFAULT_CONFIG),
            None => return Ok((FileConfig::default(), None)),
        };
        // A config file that cannot be read is a configuration fault: exit 2, as --help says.
        let text = std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "cannot read config file {}: {e}; check --config / TCAUTH_CONFIG",
                path.display()
            ))
        })?;
        let config = FileConfig::parse(&text)
            .map_err(|e| usage(format!("config file {}: {e}", path.display())))?;
        if config.secret.is_some() || config.admin_token.is_some() {
            if let Ok(m) = std::fs::metadata(&path) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        "config file {} holds secrets but has mode {mode:04o}; run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    );
                }
            }
        }
        Ok((config, Some(path)))
    }

    /// Parses and checks the file's text. The error names the offending key.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        let c: FileConfig = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        for (key, v) in [
            ("access_token_ttl", c.access_token_ttl),
            ("code_ttl", c.code_ttl),
            ("refresh_token_ttl", c.refresh_token_ttl),
            ("sweep_interval", c.sweep_interval),
            ("reload_interval", c.reload_interval),
            ("store_timeout_ms", c.store_timeout_ms.map(|ms| ms / 1000)),
            ("redis_timeout_ms", c.redis_timeout_ms.map(|ms| ms / 1000)),
            ("otp_ttl", c.otp_ttl),
            ("otp_resend_cooldown", c.otp_resend_cooldown),
            (
                "connections.header_read_timeout",
                c.connections.and_then(|c| c.header_read_timeout),
            ),
            (
                "connections.idle_timeout",
                c.connections.and_then(|c| c.idle_timeout),
            ),
        ] {
            if v.is_some_and(|v| v > MAX_DURATION_SECS) {
                return Err(format!(
                    "{key}: must be at most {MAX_DURATION_SECS} seconds"
                ));
            }
        }
        Ok(c)
    }
}

/// The values `serve` takes from flags or env (already merged by clap).
#[derive(Debug, Default)]
pub struct ServeOverrides {
    pub listen: Option<SocketAddr>,
    pub issuer: Option<String>,
    /// `TCAUTH_OTP_WEBHOOK_URL`: set, it selects the webhook sender of one-time codes.
    pub otp_webhook_url: Option<String>,
    /// `TCAUTH_OTP_WEBHOOK_SECRET`: required with the URL.
    pub otp_webhook_secret: Option<Secret>,
    /// `--redis-url` / `TCAUTH_REDIS_URL`.
    pub redis_url: Option<String>,
}

/// Parses a listen address: an IP address and a port. Host names (`localhost:8081`) are
/// refused rather than resolved, since a name may resolve to several addresses (IPv4 and IPv6)
/// and tcauth listens on exactly one; the message gives the accepted forms.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = value.trim().parse::<SocketAddr>() {
        return Ok(a);
    }
    let port = value
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| p.parse::<u16>().is_ok())
        .unwrap_or("8080");
    let host = value.rsplit_once(':').map_or(value, |(h, _)| h);
    let name = if host.eq_ignore_ascii_case("localhost") {
        format!(
            "; host names are not resolved: for localhost use 127.0.0.1:{port} (or [::1]:{port})"
        )
    } else {
        String::new()
    };
    Err(format!(
        "{value:?} is not an IP address and port{name}. Accepted forms: 127.0.0.1:{port} (this \
         machine), [::1]:{port} (IPv6), 0.0.0.0:{port} (every interface)"
    ))
}

/// Builds and validates the server's settings.
pub fn settings(
    file: &FileConfig,
    overrides: &ServeOverrides,
    secret: Secret,
    admin_token: Option<String>,
) -> Result<Settings> {
    let mut s = Settings::new(secret);
    s.listen = match (overrides.listen, &file.listen) {
        (Some(l), _) => l,
        (None, Some(l)) => {
            parse_listen(l).map_err(|e| usage(format!("config file: listen: {e}")))?
        }
        (None, None) => s.listen,
    };
    s.issuer = overrides
        .issuer
        .clone()
        .or_else(|| file.issuer.clone())
        .unwrap_or_else(|| format!("http://{}", s.listen));
    s.admin_token = admin_token.map(|t| Secret(t.into_bytes()));
    let secs = Duration::from_secs;
    if let Some(v) = file.access_token_ttl {
        s.access_token_ttl = secs(v);
    }
    if let Some(v) = file.code_ttl {
        s.code_ttl = secs(v);
    }
    if let Some(v) = file.refresh_token_ttl {
        s.refresh_token_ttl = secs(v);
    }
    if let Some(v) = file.max_in_flight {
        s.max_in_flight = v;
    }
    if let Some(v) = file.store_timeout_ms {
        s.store_timeout = Duration::from_millis(v);
    }
    if let Some(v) = file.sweep_interval {
        s.sweep_interval = secs(v);
    }
    if let Some(v) = file.sweep_batch {
        s.sweep_batch = v;
    }
    if let Some(v) = file.reload_interval {
        s.reload_interval = secs(v);
    }
    if let Some(v) = file.clients_poll_ms {
        s.clients_poll_interval = Duration::from_millis(v);
    }
    if let Some(v) = file.otp_ttl {
        s.otp_ttl = secs(v);
    }
    if let Some(v) = &file.default_country {
        s.default_country = v.trim().to_ascii_uppercase();
    }
    s.redis_url = overrides
        .redis_url
        .clone()
        .or_else(|| file.redis_url.clone())
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    if let Some(v) = file.redis_timeout_ms {
        s.redis_timeout = Duration::from_millis(v);
    }
    if let Some(v) = &file.redis_prefix {
        s.redis_prefix = v.clone();
    }
    let l = &mut s.otp_send_limits;
    if let Some(v) = file.otp_resend_cooldown {
        l.resend_cooldown = secs(v);
    }
    for (v, w) in [
        (file.otp_sends_per_number, &mut l.per_number),
        (file.otp_sends_per_ip, &mut l.per_ip),
        (file.otp_sends_per_country, &mut l.per_country),
        (file.otp_sends_per_client, &mut l.per_client),
        (
            file.otp_wrong_codes_per_number,
            &mut l.wrong_codes_per_number,
        ),
    ] {
        if let Some(v) = v {
            w.max = v;
        }
    }
    s.otp_sender = match (&overrides.otp_webhook_url, &overrides.otp_webhook_secret) {
        (None, _) => OtpSenderConfig::Log,
        (Some(url), Some(secret)) => OtpSenderConfig::Webhook {
            url: url.clone(),
            secret: secret.clone(),
        },
        (Some(_), None) => {
            return Err(usage(
                "TCAUTH_OTP_WEBHOOK_SECRET must be set when TCAUTH_OTP_WEBHOOK_URL is: the \
                 gateway checks each request's signature with it",
            ))
        }
    };
    if let Some(c) = file.connections {
        let l = &mut s.connections;
        if let Some(v) = c.header_read_timeout {
            l.header_read_timeout = secs(v);
        }
        if let Some(v) = c.idle_timeout {
            l.idle_timeout = secs(v);
        }
        if let Some(v) = c.max_connections {
            l.max_connections = v;
        }
        if let Some(v) = c.max_connections_per_ip {
            l.max_connections_per_ip = v;
        }
    }
    if let Some(list) = &file.callback_deny_networks {
        s.callback_deny_networks = list
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Network::parse(n).map_err(|e| {
                    usage(format!(
                        "config file: callback_deny_networks[{i}]: {e}; give CIDR ranges such \
                         as \"10.0.0.0/8\" or \"fc00::/7\""
                    ))
                })
            })
            .collect::<Result<_>>()?;
    }
    if let Some(v) = file.callback_poll_interval_ms {
        s.callback_poll_interval = Duration::from_millis(v);
    }
    if let Some(v) = file.callback_retry_base_ms {
        s.callback_retry_base = Duration::from_millis(v);
    }
    s.client_rate_limit = layer_rate(s.client_rate_limit, file.rate_limit);
    s.ip_rate_limit = layer_rate(s.ip_rate_limit, file.ip_rate_limit);
    if s.sweep_interval.is_zero() || s.reload_interval.is_zero() {
        return Err(usage(
            "sweep_interval and reload_interval must be at least 1 second",
        ));
    }
    s.validate().map_err(usage)?;
    Ok(s)
}

fn layer_rate(default: RateLimit, file: Option<RateLimitConfig>) -> RateLimit {
    let f = file.unwrap_or_default();
    RateLimit {
        per_second: f.per_second.unwrap_or(default.per_second),
        burst: f.burst.unwrap_or(default.burst),
    }
}

/// What `tcauth config example` prints: every setting with its default.
pub const EXAMPLE: &str = r#"# tcauth.toml: configuration for tcauth.
#
# Layering: built-in defaults, then this file, then TCAUTH_* environment variables, then
# command-line flags; later wins. tcauth reads ./tcauth.toml when it exists, or the file named
# by --config / TCAUTH_CONFIG. Unknown keys are errors. Relative paths are relative to the
# working directory. Durations are whole seconds unless the key says otherwise.
# Log verbosity is not set here: use TCAUTH_LOG (e.g. "info", "debug", "tcauth_server=debug").

# Address to listen on (TCAUTH_LISTEN, --listen).
listen = "127.0.0.1:8080"

# Public base URL: the `iss` of tokens and the base of discovery's URLs, without a trailing
# slash (TCAUTH_ISSUER, --issuer). Default: "http://" followed by `listen`.
# issuer = "https://auth.example.com"

# Directory for the SQLite database (tcauth.db) and the generated secret
# (TCAUTH_DATA_DIR, --data-dir). Created with mode 0700.
data_dir = "./tcauth-data"

# Database (TCAUTH_DATABASE_URL, --database-url): sqlite://PATH, or
# postgres://USER[:PASSWORD]@HOST[:PORT]/DB for several nodes on one database. With
# PostgreSQL, `secret` (or TCAUTH_SECRET) must be set, to the same value on every node.
# Default: sqlite://<data_dir>/tcauth.db
# database_url = "sqlite://./tcauth-data/tcauth.db"

# Redis for the counters every node must share: request rate limits and one-time-code send
# limits (TCAUTH_REDIS_URL, --redis-url): redis://[USER:PASSWORD@]HOST[:PORT][/DB].
# Unset: the counters are kept per process. When Redis does not answer, rate limits fall
# back to each node's own buckets and one-time-code sends are refused (503).
# redis_url = "redis://127.0.0.1:6379/0"
# Longest wait for one Redis call, in milliseconds, and the prefix of every key.
redis_timeout_ms = 150
redis_prefix = "tcauth:"

# Server secret, at least 32 bytes (TCAUTH_SECRET): base64/base64url of at least 32 bytes,
# or at least 32 characters of text. It keys every HMAC and seals the signing keys; changing
# it makes the stored signing keys unusable. Default: generated on first start into
# <data_dir>/secret (mode 0600) and reused. Prefer the environment or that file to this key.
# secret = "<output of: openssl rand -base64 32>"

# Bearer token for the admin API, at least 16 characters (TCAUTH_ADMIN_TOKEN).
# Unset: the admin API is off and /admin answers 404.
# admin_token = "<a long random string>"

# Access token and id_token lifetime.
access_token_ttl = 3600
# Authorization code lifetime, 1-600.
code_ttl = 60
# Absolute lifetime of a refresh-token family (30 days); rotation never extends it.
refresh_token_ttl = 2592000

# Requests worked on at once; more are shed with 503.
max_in_flight = 1024
# How long a request waits for the store before answering 503, in milliseconds.
store_timeout_ms = 2000
# How often expired codes and tokens are deleted, and how many rows of each kind per round.
sweep_interval = 60
sweep_batch = 1000
# How often signing keys and per-client rate limits are re-read from the store.
reload_interval = 10
# How often each node checks (one cheap query) whether a client changed, and if so re-reads
# them: a change reaches every node within 1 s. 50-900 milliseconds.
clients_poll_ms = 250

# One-time codes (sign-in pages, phone verification). They go to the server log unless
# TCAUTH_OTP_WEBHOOK_URL names an SMS gateway (with TCAUTH_OTP_WEBHOOK_SECRET, at least 16
# bytes, keying the X-Tcauth-Signature header); those two are read from the environment only.
# Lifetime of a code, 1-600.
otp_ttl = 300
# Wait between two codes to one number (0: none).
otp_resend_cooldown = 30
# Codes sent at most per number per 10 minutes, per caller IP (IPv6: per /64) per hour, per
# country of the number per hour, and per client (app) per hour. A send is counted only once
# every other check has passed (a bogus client or a bad number uses up nothing).
otp_sends_per_number = 5
otp_sends_per_ip = 10
otp_sends_per_country = 200
otp_sends_per_client = 100
# Wrong codes per number per 24 hours, across resends; past that the number takes no code
# and no check until the oldest failure is a day old.
otp_wrong_codes_per_number = 10

# Country preselected on the sign-in page's phone-number form (ISO 3166 alpha-2).
default_country = "IN"

# Mobile Websites callbacks (the POST to a client's callback_url). The host is resolved at
# every attempt; link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata) are always
# refused, and so is any address in these CIDR ranges. In production, list loopback and the
# private networks, e.g.
# callback_deny_networks = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12",
#                           "192.168.0.0/16", "fc00::/7"]
callback_deny_networks = []
# How often each node looks for due callbacks, in milliseconds (10-10000), and the first
# retry's delay after a failed attempt (10-60000; doubled per attempt up to 60 s, jittered).
callback_poll_interval_ms = 200
callback_retry_base_ms = 1000

# Default per-client token bucket at the token and revocation endpoints
# (a client's own limit, set with `tcauth client create --rate-limit-*`, wins).
[rate_limit]
per_second = 100
burst = 200

# Token bucket per caller IP for requests without a client_id (the phone-verification API
# counts every request here).
[ip_rate_limit]
per_second = 20
burst = 40

# Connections: a client must send each request head (request line and headers) within
# header_read_timeout (from the connection's opening for the first request); a kept-alive
# connection with no request in progress and no byte moving for idle_timeout is closed (longer
# than the 60-90 s pools of load balancers and HTTP clients, so they close first). Connections
# over max_connections in all, or over max_connections_per_ip from one IPv4 address or IPv6
# /64, are closed at once. Keep max_connections below the open-file limit (ulimit -n); behind a
# reverse proxy, raise max_connections_per_ip to max_connections. HTTP/1.1 only.
[connections]
header_read_timeout = 10
idle_timeout = 120
max_connections = 10000
max_connections_per_ip = 512

# The connection pool of a postgres:// database (ignored with SQLite). Each node opens at
# most max_connections; a request waits at most wait_timeout_ms for one, and a statement
# runs at most statement_timeout_ms.
[postgres]
max_connections = 16
connect_timeout_ms = 2000
wait_timeout_ms = 2000
statement_timeout_ms = 5000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret(vec![1; 32])
    }

    #[test]
    fn example_parses_and_gives_the_defaults() {
        let file = FileConfig::parse(EXAMPLE).unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        let d = Settings::new(secret());
        assert_eq!(s.listen, d.listen);
        assert_eq!(s.issuer, d.issuer);
        assert_eq!(s.access_token_ttl, d.access_token_ttl);
        assert_eq!(s.code_ttl, d.code_ttl);
        assert_eq!(s.refresh_token_ttl, d.refresh_token_ttl);
        assert_eq!(s.client_rate_limit, d.client_rate_limit);
        assert_eq!(s.ip_rate_limit, d.ip_rate_limit);
        assert_eq!(s.max_in_flight, d.max_in_flight);
        assert_eq!(s.store_timeout, d.store_timeout);
        assert_eq!(s.sweep_interval, d.sweep_interval);
        assert_eq!(s.sweep_batch, d.sweep_batch);
        assert_eq!(s.reload_interval, d.reload_interval);
        assert_eq!(s.clients_poll_interval, d.clients_poll_interval);
        assert_eq!(s.otp_ttl, d.otp_ttl);
        assert_eq!(s.otp_send_limits, d.otp_send_limits);
        assert_eq!(s.otp_sender, d.otp_sender);
        assert_eq!(s.redis_url, d.redis_url);
        assert_eq!(s.redis_timeout, d.redis_timeout);
        assert_eq!(s.redis_prefix, d.redis_prefix);
        assert_eq!(s.connections, d.connections);
        assert_eq!(s.callback_deny_networks, d.callback_deny_networks);
        assert_eq!(s.callback_poll_interval, d.callback_poll_interval);
        assert_eq!(s.callback_retry_base, d.callback_retry_base);
        assert_eq!(file.data_dir.as_deref(), Some(Path::new(DEFAULT_DATA_DIR)));
    }

    #[test]
    fn layering() {
        let file = FileConfig::parse(
            "listen = \"127.0.0.1:9000\"\ncode_ttl = 30\n[rate_limit]\nburst = 7\n",
        )
        .unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.issuer, "http://127.0.0.1:9000");
        assert_eq!(s.code_ttl, Duration::from_secs(30));
        assert_eq!(s.client_rate_limit.burst, 7);
        assert_eq!(s.client_rate_limit.per_second, 100);
        let flags = ServeOverrides {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            issuer: Some("https://id.example".into()),
            ..ServeOverrides::default()
        };
        let s = settings(&file, &flags, secret(), None).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.issuer, "https://id.example");
    }

    #[test]
    fn otp_settings() {
        let file = FileConfig::parse(
            "otp_ttl = 120\notp_resend_cooldown = 0\notp_sends_per_country = 7\n",
        )
        .unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        assert_eq!(s.otp_ttl, Duration::from_secs(120));
        assert_eq!(s.otp_send_limits.resend_cooldown, Duration::ZERO);
        assert_eq!(s.otp_send_limits.per_country.max, 7);
        assert_eq!(s.otp_send_limits.per_number.max, 5);
        let e = settings(
            &FileConfig::parse("otp_ttl = 601").unwrap(),
            &ServeOverrides::default(),
            secret(),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("otp_ttl"), "{e}");

        let url = Some("https://sms.example/hook".to_string());
        let hook = ServeOverrides {
            otp_webhook_url: url.clone(),
            otp_webhook_secret: Some(Secret(b"0123456789abcdef".to_vec())),
            ..ServeOverrides::default()
        };
        let s = settings(&FileConfig::default(), &hook, secret(), None).unwrap();
        assert!(
            matches!(s.otp_sender, OtpSenderConfig::Webhook { ref url, .. } if url == "https://sms.example/hook")
        );
        let no_secret = ServeOverrides {
            otp_webhook_url: url,
            ..ServeOverrides::default()
        };
        let e = settings(&FileConfig::default(), &no_secret, secret(), None).unwrap_err();
        assert!(e.to_string().contains("TCAUTH_OTP_WEBHOOK_SECRET"), "{e}");
    }

    #[test]
    fn redis_settings() {
        let file = FileConfig::parse(
            "redis_url = \"redis://file:6379/0\"\nredis_timeout_ms = 250\nredis_prefix = \"a:\"",
        )
        .unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        assert_eq!(s.redis_url.as_deref(), Some("redis://file:6379/0"));
        assert_eq!(s.redis_timeout, Duration::from_millis(250));
        assert_eq!(s.redis_prefix, "a:");
        let flag = ServeOverrides {
            redis_url: Some("redis://flag:6379/".into()),
            ..ServeOverrides::default()
        };
        let s = settings(&file, &flag, secret(), None).unwrap();
        assert_eq!(s.redis_url.as_deref(), Some("redis://flag:6379/"));
        for bad in ["rediss://u:hunter2@h:6379", "http://u:hunter2@h", "hunter2"] {
            let o = ServeOverrides {
                redis_url: Some(bad.into()),
                ..ServeOverrides::default()
            };
            let e = settings(&FileConfig::default(), &o, secret(), None).unwrap_err();
            assert!(e.to_string().contains("TCAUTH_REDIS_URL"), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = FileConfig::parse("[postgres]\nmax_conections = 3").unwrap_err();
        assert!(e.contains("max_conections"), "{e}");
    }

    #[test]
    fn connection_settings() {
        let file = FileConfig::parse(
            "[connections]\nheader_read_timeout = 3\nidle_timeout = 30\nmax_connections = 50\n\
             max_connections_per_ip = 5\n",
        )
        .unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(3));
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.connections.max_connections, 50);
        assert_eq!(s.connections.max_connections_per_ip, 5);
        let file = FileConfig::parse("[connections]\nmax_connections = 2\n").unwrap();
        let e = settings(&file, &ServeOverrides::default(), secret(), None).unwrap_err();
        assert!(e.to_string().contains("max_connections_per_ip"), "{e}");
        let file = FileConfig::parse("[connections]\nidle_timeout = 0\n").unwrap();
        let e = settings(&file, &ServeOverrides::default(), secret(), None).unwrap_err();
        assert!(e.to_string().contains("idle_timeout"), "{e}");
        let e = FileConfig::parse("[connections]\nmax = 3").unwrap_err();
        assert!(e.contains("max"), "{e}");
    }

    #[test]
    fn callback_settings() {
        let file = FileConfig::parse(
            "callback_deny_networks = [\"127.0.0.0/8\", \"10.0.0.0/8\", \"fc00::/7\"]\n\
             callback_poll_interval_ms = 50\ncallback_retry_base_ms = 20\n",
        )
        .unwrap();
        let s = settings(&file, &ServeOverrides::default(), secret(), None).unwrap();
        let nets: Vec<String> = s
            .callback_deny_networks
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["127.0.0.0/8", "10.0.0.0/8", "fc00::/7"]);
        assert_eq!(s.callback_poll_interval, Duration::from_millis(50));
        assert_eq!(s.callback_retry_base, Duration::from_millis(20));
        for (text, needle) in [
            (
                "callback_deny_networks = [\"10.0.0.0/8\", \"10.0.0/8\"]",
                "callback_deny_networks[1]",
            ),
            (
                "callback_deny_networks = [\"10.1.0.0/8\"]",
                "did you mean 10.0.0.0/8",
            ),
            ("callback_poll_interval_ms = 0", "callback_poll_interval_ms"),
            ("callback_retry_base_ms = 600000", "callback_retry_base_ms"),
        ] {
            let file = FileConfig::parse(text).unwrap();
            let e = settings(&file, &ServeOverrides::default(), secret(), None).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let e = FileConfig::parse("callback_deny_networks = \"10.0.0.0/8\"").unwrap_err();
        assert!(
            e.contains("callback_deny_networks") || e.contains("sequence"),
            "{e}"
        );
    }

    #[test]
    fn listen_addresses() {
        for ok in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "0.0.0.0:8080",
            " 127.0.0.1:1 ",
        ] {
            assert!(parse_listen(ok).is_ok(), "{ok}");
        }
        let e = parse_listen("localhost:8081").unwrap_err();
        assert!(
            e.contains("127.0.0.1:8081") && e.contains("[::1]:8081"),
            "{e}"
        );
        assert!(
            e.contains("0.0.0.0:8081") && e.contains("not resolved"),
            "{e}"
        );
        let e = parse_listen("8080").unwrap_err();
        assert!(
            e.contains("127.0.0.1:8080") && !e.contains("not resolved"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = FileConfig::parse("lisen = \"x\"").unwrap_err();
        assert!(e.contains("lisen"), "{e}");
        let e = FileConfig::parse("[rate_limit]\nper_sec = 1").unwrap_err();
        assert!(e.contains("per_sec"), "{e}");
        let file = FileConfig::parse("code_ttl = 601").unwrap();
        let e = settings(&file, &ServeOverrides::default(), secret(), None).unwrap_err();
        assert!(e.to_string().contains("code_ttl"), "{e}");
        let e = settings(
            &FileConfig::default(),
            &ServeOverrides::default(),
            secret(),
            Some("short".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("admin token"), "{e}");
    }
}
