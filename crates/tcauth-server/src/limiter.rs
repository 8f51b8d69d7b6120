//! Admission control: per-client and per-IP token buckets (429), and a bound on requests in
//! flight (503).
//!
//! [`RateLimiter`] is what the server uses: the buckets of this process ([`Limiter`]) or, with
//! `redis_url`, buckets in Redis shared by every node ([`crate::shared::rate`], the same
//! limits and per-client overrides). When Redis does not answer within `redis_timeout`, the
//! request is judged by this process's buckets instead (a warning is logged, at most once per
//! 10 s), and Redis is used again as soon as it answers. The bound on requests in flight is
//! always per process.

use crate::shared::{self, Shared};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tcauth_core::model::RateLimit;
use tcauth_core::ratelimit::{Bucket, Decision};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most buckets kept; past this, callers without a bucket are limited by their IP instead.
const MAX_BUCKETS: usize = 100_000;

/// Longest client_id given a bucket of its own.
const MAX_CLIENT_ID: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(String),
    Ip(IpAddr),
}

pub struct Limiter {
    client_default: RateLimit,
    ip: RateLimit,
    overrides: RwLock<HashMap<String, RateLimit>>,
    buckets: Mutex<HashMap<Key, Bucket>>,
    in_flight: Arc<Semaphore>,
    origin: Instant,
}

impl Limiter {
    pub fn new(client_default: RateLimit, ip: RateLimit, max_in_flight: usize) -> Self {
        Limiter {
            client_default,
            ip,
            overrides: RwLock::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            origin: Instant::now(),
        }
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    fn limit_for(&self, key: &Key) -> RateLimit {
        match key {
            Key::Ip(_) => self.ip,
            Key::Client(id) => self
                .overrides
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .copied()
                .unwrap_or(self.client_default),
        }
    }

    /// The bucket a request counts against: its client_id's, or its IP's when it has none
    /// (or one longer than any real one, so junk cannot bloat the table).
    fn key_of(client_id: Option<&str>, ip: IpAddr) -> Key {
        match client_id {
            Some(id) if id.len() <= MAX_CLIENT_ID => Key::Client(id.to_string()),
            _ => Key::Ip(ip),
        }
    }

    /// Takes a token from the bucket of `client_id` (when given) or of `ip`.
    pub fn check(&self, client_id: Option<&str>, ip: IpAddr) -> Decision {
        let mut key = Self::key_of(client_id, ip);
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= MAX_BUCKETS {
            self.prune_locked(&mut buckets, now);
            if buckets.len() >= MAX_BUCKETS {
                key = Key::Ip(ip);
            }
        }
        let rl = self.limit_for(&key);
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(rl.burst, now))
            .take(rl.per_second, rl.burst, now)
    }

    fn prune_locked(&self, buckets: &mut HashMap<Key, Bucket>, now: f64) {
        buckets.retain(|k, b| {
            let rl = self.limit_for(k);
            !b.is_full(rl.per_second, rl.burst, now)
        });
    }

    /// Forgets buckets that are full again (they would behave the same when recreated).
    pub fn prune(&self) {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        self.prune_locked(&mut buckets, now);
    }

    /// Sets or clears one client's limit.
    pub fn set_override(&self, client_id: &str, rl: Option<RateLimit>) {
        let mut o = self.overrides.write().unwrap_or_else(|p| p.into_inner());
        match rl {
            Some(rl) => o.insert(client_id.to_string(), rl),
            None => o.remove(client_id),
        };
        drop(o);
        // A new limit takes effect with a fresh bucket.
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Key::Client(client_id.to_string()));
    }

    /// Replaces every per-client limit (after re-reading the clients). A client whose limit
    /// changed starts again with a fresh bucket, as with [`Limiter::set_override`].
    pub fn replace_overrides(&self, all: HashMap<String, RateLimit>) {
        let mut o = self.overrides.write().unwrap_or_else(|p| p.into_inner());
        let changed: Vec<String> = o
            .iter()
            .filter(|(id, rl)| all.get(*id) != Some(*rl))
            .map(|(id, _)| id.clone())
            .chain(
                all.iter()
                    .filter(|(id, rl)| o.get(*id) != Some(*rl))
                    .map(|(id, _)| id.clone()),
            )
            .collect();
        *o = all;
        drop(o);
        if !changed.is_empty() {
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            for id in changed {
                buckets.remove(&Key::Client(id));
            }
        }
    }

    /// A place among the requests in flight, or `None` when the server is full.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.clone().try_acquire_owned().ok()
    }
}

/// The rate limits the server uses: this process's buckets, or Redis's (see the module doc).
pub struct RateLimiter {
    local: Limiter,
    shared: Option<Arc<Shared>>,
}

impl RateLimiter {
    pub fn new(local: Limiter, shared: Option<Arc<Shared>>) -> Self {
        RateLimiter { local, shared }
    }

    /// Takes a token from the bucket of `client_id` (when given) or of `ip`: in Redis when it
    /// answers, else in this process.
    pub async fn check(&self, client_id: Option<&str>, ip: IpAddr) -> Decision {
        if let Some(s) = &self.shared {
            let key = Limiter::key_of(client_id, ip);
            let rl = self.local.limit_for(&key);
            let name = match &key {
                Key::Client(id) => shared::rate::client_key(id),
                Key::Ip(ip) => shared::rate::ip_key(*ip),
            };
            if let Ok(d) = shared::rate::take(s, &name, rl).await {
                return d;
            }
        }
        self.local.check(client_id, ip)
    }

    /// Sets or clears one client's limit.
    pub fn set_override(&self, client_id: &str, rl: Option<RateLimit>) {
        self.local.set_override(client_id, rl);
    }

    /// Replaces every per-client limit (after re-reading the clients).
    pub fn replace_overrides(&self, all: HashMap<String, RateLimit>) {
        self.local.replace_overrides(all);
    }

    /// Forgets this process's full buckets (Redis expires its own).
    pub fn prune(&self) {
        self.local.prune();
    }

    /// A place among the requests in flight (per process), or `None` when the server is full.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.local.try_enter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn replacing_the_overrides_refreshes_only_the_changed_buckets() {
        let rl = |per_second, burst| RateLimit { per_second, burst };
        let l = Limiter::new(rl(1, 1), rl(1, 1), 2);
        l.replace_overrides([("a".to_string(), rl(1, 2)), ("b".to_string(), rl(1, 2))].into());
        for id in ["a", "b", "c"] {
            while l.check(Some(id), IP) == Decision::Allow {}
        }
        // a changed, b did not, c got one: a and c start full, b stays empty.
        l.replace_overrides(
            [
                ("a".to_string(), rl(1, 3)),
                ("b".to_string(), rl(1, 2)),
                ("c".to_string(), rl(1, 2)),
            ]
            .into(),
        );
        for _ in 0..3 {
            assert_eq!(l.check(Some("a"), IP), Decision::Allow);
        }
        assert!(matches!(l.check(Some("a"), IP), Decision::Deny { .. }));
        assert!(matches!(l.check(Some("b"), IP), Decision::Deny { .. }));
        assert_eq!(l.check(Some("c"), IP), Decision::Allow);
        // Dropped: back to the default with a fresh bucket.
        l.replace_overrides(HashMap::new());
        assert_eq!(l.check(Some("b"), IP), Decision::Allow);
        assert!(matches!(l.check(Some("b"), IP), Decision::Deny { .. }));
    }

    #[test]
    fn client_override_and_ip_bucket() {
        let l = Limiter::new(
            RateLimit {
                per_second: 1,
                burst: 2,
            },
            RateLimit {
                per_second: 1,
                burst: 1,
            },
            2,
        );
        assert_eq!(l.check(Some("a"), IP), Decision::Allow);
        assert_eq!(l.check(Some("a"), IP), Decision::Allow);
        assert!(matches!(l.check(Some("a"), IP), Decision::Deny { .. }));
        assert_eq!(l.check(None, IP), Decision::Allow);
        assert!(matches!(l.check(None, IP), Decision::Deny { .. }));
        l.set_override(
            "a",
            Some(RateLimit {
                per_second: 1,
                burst: 5,
            }),
        );
        for _ in 0..5 {
            assert_eq!(l.check(Some("a"), IP), Decision::Allow);
        }
        assert!(matches!(l.check(Some("a"), IP), Decision::Deny { .. }));
    }

    #[test]
    fn in_flight_bound() {
        let l = Limiter::new(
            RateLimit {
                per_second: 1,
                burst: 1,
            },
            RateLimit {
                per_second: 1,
                burst: 1,
            },
            1,
        );
        let p = l.try_enter();
        assert!(p.is_some());
        assert!(l.try_enter().is_none());
        drop(p);
        assert!(l.try_enter().is_some());
    }
}
