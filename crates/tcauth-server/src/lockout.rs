//! Failed admin authentications, limited per address (the admin API's guard, `admin::guard`,
//! asks before it compares a token).
//!
//! Each address has a bucket of [`BURST`] failures, refilled one per [`REFILL_EVERY`]. Before
//! the presented token is compared, [`AdminLockout::reserve`] takes one from the caller's
//! bucket; an empty bucket is a 429 with `Retry-After`, whatever the token (a right one
//! included: otherwise a locked-out guesser would still learn which guess is right). A wrong
//! or missing token keeps what was taken — the failure is charged; a right one gives it back
//! ([`AdminLockout::give_back`]), so a right token never spends budget. Taking before the
//! comparison (not after) keeps concurrent guesses from overtaking the limit.
//!
//! The key is the peer address, an IPv6 address by its /64 (one subscriber's usual share).
//! With `redis_url`, the buckets are GCRA keys in Redis (`<prefix>adm:ip:<ip>`), so the limit
//! holds across nodes; when Redis does not answer, this process's buckets decide (as for the
//! request rate limits). The constants are not settings: a right token is never limited, so
//! only an operator's typing (ten tries at once, one more every 10 s) or a guesser meets them.

use crate::ip::key_of;
use crate::shared::{self, Shared};
use crate::throttle::Throttle;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tcauth_core::ratelimit::{Bucket, Decision};

/// Failures an address may have at once.
pub const BURST: u32 = 10;

/// One more failure is allowed this long after the last (6 a minute, 360 an hour at most).
pub const REFILL_EVERY: Duration = Duration::from_secs(10);

/// Most addresses with a bucket of their own; past this (after forgetting full buckets), new
/// addresses share one bucket, so a spread-out flood cannot grow the table.
const MAX_BUCKETS: usize = 100_000;

/// Where new addresses count once the table is full (no peer has this address).
const OVERFLOW: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// A failure taken ahead of the comparison, to be given back if the token is right.
#[derive(Debug)]
pub enum Hold {
    Local(IpAddr),
    Shared(String),
}

pub struct AdminLockout {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    origin: Instant,
    shared: Option<Arc<Shared>>,
    /// At most one line a second about failures, one about locked-out requests.
    pub failure_log: Throttle,
    pub locked_log: Throttle,
}

fn rate() -> f64 {
    1.0 / REFILL_EVERY.as_secs_f64()
}

fn interval_us() -> f64 {
    REFILL_EVERY.as_secs_f64() * 1e6
}

impl AdminLockout {
    pub fn new(shared: Option<Arc<Shared>>) -> Self {
        AdminLockout {
            buckets: Mutex::new(HashMap::new()),
            origin: Instant::now(),
            shared,
            failure_log: Throttle::default(),
            locked_log: Throttle::default(),
        }
    }

    /// Takes one failure from `ip`'s bucket: `Ok` to go on and compare the token, or
    /// `Err(retry_after)` (whole seconds) when the address is locked out.
    pub async fn reserve(&self, ip: IpAddr) -> Result<Hold, u64> {
        let key = key_of(ip);
        if let Some(s) = &self.shared {
            let name = shared::rate::admin_failures_key(key);
            match shared::rate::take_every(s, &name, interval_us(), BURST).await {
                Ok(Decision::Allow) => return Ok(Hold::Shared(name)),
                Ok(Decision::Deny { retry_after }) => return Err(retry_after),
                Err(_) => {} // this process decides
            }
        }
        self.reserve_local(key)
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    fn reserve_local(&self, mut key: IpAddr) -> Result<Hold, u64> {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| !b.is_full_at(rate(), BURST, now));
            if buckets.len() >= MAX_BUCKETS {
                key = OVERFLOW;
            }
        }
        match buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(BURST, now))
            .take_at(rate(), BURST, now)
        {
            Decision::Allow => Ok(Hold::Local(key)),
            Decision::Deny { retry_after } => Err(retry_after),
        }
    }

    /// The token was right: puts the failure taken by [`AdminLockout::reserve`] back.
    pub async fn give_back(&self, hold: Hold) {
        match hold {
            Hold::Local(key) => {
                let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(b) = buckets.get_mut(&key) {
                    b.give_back(BURST);
                }
            }
            Hold::Shared(name) => {
                if let Some(s) = &self.shared {
                    // Should Redis fail now, one failure stays charged: it refills in 10 s.
                    let _ = shared::rate::give_back(s, &name, interval_us()).await;
                }
            }
        }
    }

    /// Forgets buckets that are full again (they would behave the same when recreated).
    pub fn prune(&self) {
        let now = self.now();
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, b| !b.is_full_at(rate(), BURST, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn ten_failures_then_locked_and_right_tokens_spend_nothing() {
        let l = AdminLockout::new(None);
        let a = ip("192.0.2.1");
        // A right token (reserve, then give back) any number of times.
        for _ in 0..50 {
            let h = l.reserve(a).await.unwrap();
            l.give_back(h).await;
        }
        for _ in 0..BURST {
            l.reserve(a).await.unwrap(); // a failure: kept
        }
        assert_eq!(l.reserve(a).await.unwrap_err(), 10);
        assert!(l.reserve(ip("192.0.2.2")).await.is_ok(), "another address");
        assert_eq!(l.len(), 2);
        l.prune();
        assert_eq!(l.len(), 2, "neither is full again");
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        assert_eq!(key_of(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(key_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(key_of(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
