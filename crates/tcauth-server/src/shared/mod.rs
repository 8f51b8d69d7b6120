//! Counters every node of a cluster shares, in Redis (`--redis-url`): the request rate limits
//! ([`rate`]) and the one-time-code send limits ([`sends`]).
//!
//! One multiplexed connection per process. Every limit decision is one Lua script call
//! (`EVALSHA`, or `EVAL` when the server has not cached the script, e.g. after a restart),
//! atomic on the server, with the server's clock (`TIME`), so nodes with skewed clocks agree.
//! Each call has `redis_timeout` (default 150 ms) in all. A call that fails or times out drops
//! the connection, and a background task connects again (a `PING` must answer before the new
//! connection is used); until then calls fail at once, so an outage adds no latency. What a
//! failure means is the caller's choice: the rate limits fall back to this process's buckets,
//! the send limits refuse (checklist O10). A warning is logged at most once per 10 s.
//!
//! One Redis (with replicas if wished) is supported, not Redis Cluster: the send-limit script
//! touches three keys. Redis 5 or later (scripts that call `TIME` and then write).

pub mod rate;
pub mod sends;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, FromRedisValue, RedisError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

/// How long establishing a connection (and its `PING`) may take, in the background.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Waits between reconnection attempts: doubling from the first to the last.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// At most one warning about Redis per this period.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A Lua script and its SHA-1 (the name `EVALSHA` knows it by).
pub struct Script {
    code: &'static str,
    sha1: String,
}

impl Script {
    pub fn new(code: &'static str) -> Script {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, code.as_bytes());
        Script {
            code,
            sha1: tcauth_core::secret::hex(d.as_ref()),
        }
    }
}

/// Redis did not answer in time, or answered with an error: the caller decides what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// A warning at most once per [`WARN_EVERY`], counting what it did not say.
struct LogGate {
    last: Mutex<Option<Instant>>,
    quiet: AtomicU64,
}

impl LogGate {
    fn new() -> Self {
        LogGate {
            last: Mutex::new(None),
            quiet: AtomicU64::new(0),
        }
    }

    /// `Some(number of warnings skipped since the last one)` when one may be logged now.
    fn open(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            self.quiet.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(Instant::now());
        Some(self.quiet.swap(0, Ordering::Relaxed))
    }
}

/// The connection to Redis shared by the limits of one process.
pub struct Shared {
    client: redis::Client,
    /// `host:port` (or socket path), for logs; never the URL, which may hold a password.
    addr: String,
    prefix: String,
    timeout: Duration,
    /// The connection in use and its generation (so a late failure of an old connection does
    /// not drop a new one).
    conn: RwLock<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
    reconnecting: AtomicBool,
    warn: LogGate,
    /// Calls that failed, timed out, or found no connection (`tcauth_redis_failures_total`).
    failures: Arc<AtomicU64>,
}

impl Shared {
    /// Connects to `url` (already checked), giving up after [`CONNECT_TIMEOUT`]: when Redis is
    /// unreachable the server starts all the same, with a warning, and keeps trying in the
    /// background.
    pub async fn start(
        url: &str,
        prefix: &str,
        timeout: Duration,
        failures: Arc<AtomicU64>,
    ) -> Result<Arc<Shared>, String> {
        let client = redis::Client::open(url).map_err(|_| {
            "the Redis URL (TCAUTH_REDIS_URL) is not a valid redis:// URL".to_string()
        })?;
        let shared = Arc::new(Shared {
            addr: client.get_connection_info().addr.to_string(),
            client,
            prefix: prefix.to_string(),
            timeout,
            conn: RwLock::new(None),
            generation: AtomicU64::new(0),
            reconnecting: AtomicBool::new(false),
            warn: LogGate::new(),
            failures,
        });
        match shared.connect().await {
            Ok(c) => {
                shared.install(c);
                tracing::info!(redis = %shared.addr, "rate limits and one-time-code send limits are shared in Redis");
            }
            Err(e) => {
                tracing::warn!(
                    redis = %shared.addr,
                    error = %e,
                    "Redis is unreachable: starting anyway; until it answers, request rate \
                     limits use this node's own buckets and one-time-code sends are refused"
                );
                shared.warn.open();
                shared.reconnect();
            }
        }
        Ok(shared)
    }

    /// `prefix` + `rest`: every key this server uses.
    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Whether a connection is in use (it may still fail on its next call).
    pub fn is_connected(&self) -> bool {
        self.conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(CONNECT_TIMEOUT);
        let attempt = async {
            let mut c = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING").query_async::<()>(&mut c).await?;
            Ok::<_, RedisError>(c)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        }
    }

    fn install(&self, c: MultiplexedConnection) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some((generation, c));
    }

    /// Starts the background reconnection unless it is running. It holds only a weak
    /// reference, so it ends when the server is gone.
    fn reconnect(self: &Arc<Self>) {
        if self.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut wait = RECONNECT_FIRST;
            loop {
                tokio::time::sleep(wait).await;
                let Some(this) = weak.upgrade() else { return };
                match this.connect().await {
                    Ok(c) => {
                        this.install(c);
                        this.reconnecting.store(false, Ordering::SeqCst);
                        tracing::info!(redis = %this.addr, "Redis answers again: limits are shared again");
                        return;
                    }
                    Err(e) => this.failed_quietly(&e),
                }
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        });
    }

    fn failed_quietly(&self, reason: &str) {
        if let Some(skipped) = self.warn.open() {
            tracing::warn!(
                redis = %self.addr,
                error = %reason,
                skipped,
                "Redis unavailable: request rate limits use this node's own buckets and \
                 one-time-code sends are refused until it answers"
            );
        }
    }

    fn failed(self: &Arc<Self>, generation: Option<u64>, reason: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(g) = generation {
            let mut conn = self.conn.write().unwrap_or_else(|p| p.into_inner());
            if conn.as_ref().is_some_and(|(current, _)| *current == g) {
                *conn = None;
            }
        }
        self.failed_quietly(reason);
        if !self.is_connected() {
            self.reconnect();
        }
    }

    /// Runs `script` with `keys` and `args`: `EVALSHA`, then `EVAL` if the server does not
    /// know the script. At most `redis_timeout` in all.
    pub async fn eval<T: FromRedisValue>(
        self: &Arc<Self>,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Result<T, Unavailable> {
        let current = self.conn.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some((generation, mut conn)) = current else {
            self.failed(None, "not connected");
            return Err(Unavailable);
        };
        let call = async {
            let run = |verb: &str, body: &str| {
                let mut c = redis::cmd(verb);
                c.arg(body).arg(keys.len()).arg(keys).arg(args);
                c
            };
            match run("EVALSHA", &script.sha1).query_async(&mut conn).await {
                Err(e) if e.kind() == ErrorKind::NoScriptError => {
                    run("EVAL", script.code).query_async(&mut conn).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // A broken connection is dropped; an error answer (a full memory, a script
                // error) leaves it in use.
                let broken =
                    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error();
                self.failed(broken.then_some(generation), &e.to_string());
                Err(Unavailable)
            }
            Err(_) => {
                let why = format!("no answer within {:?}", self.timeout);
                self.failed(Some(generation), &why);
                Err(Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_rate_limited() {
        let g = LogGate::new();
        assert_eq!(g.open(), Some(0));
        assert_eq!(g.open(), None);
        assert_eq!(g.open(), None);
        *g.last.lock().unwrap() = Some(Instant::now() - WARN_EVERY);
        assert_eq!(g.open(), Some(2), "counts what it did not say");
    }

    #[test]
    fn script_names_are_sha1() {
        // SHA-1 of "return 1", as `SCRIPT LOAD` would name it.
        assert_eq!(
            Script::new("return 1").sha1,
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }
}
