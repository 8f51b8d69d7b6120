//! Send limits for one-time codes (checklist O6–O9): a resend cooldown and a sliding window per
//! number, a sliding window per caller IP, per country and per client, and a cap on wrong codes
//! per number across resends.
//!
//! A send is charged only once every other check has passed — the number parsed, the client
//! (or the browser session) known — and it is handed back ([`SendLimiter::refund`]) when the
//! code could not even be stored, so that nothing that sends no code uses up a limit that
//! others share (ARCHITECTURE.md, "Limits are charged last").
//!
//! [`SendLimiter`] is what the server uses: [`SendLimits`], kept in this process (all keys are
//! checked and recorded under one lock, so a send is counted everywhere or nowhere; a refused
//! send is not counted), or, with `redis_url`, [`SharedSends`], the same rule in Redis for
//! every node at once. When Redis does not answer, sends are refused (checklist O10): an
//! outage must never lift the limits.

use crate::ip::{ip_key, IpKey};
use crate::settings::{OtpSendLimits, SendWindow};
use crate::shared::sends::SharedSends;
pub use crate::shared::sends::Ticket;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;
use tcauth_core::phone::Phone;

/// Most keys of each kind kept. Past this (after forgetting idle keys), sends to new keys are
/// refused: the limits fail closed.
const MAX_KEYS: usize = 100_000;

/// Retry-After given when the tables are full.
const FULL_RETRY_SECS: u64 = 60;

/// Send times (seconds since the limiter's origin) within the window, oldest first.
#[derive(Debug, Default)]
struct Sends(VecDeque<f64>);

impl Sends {
    /// Takes back the send recorded at `t` (a refund).
    fn remove(&mut self, t: f64) {
        if let Some(i) = self.0.iter().rposition(|&s| s == t) {
            self.0.remove(i);
        }
    }

    fn forget_before(&mut self, t: f64) {
        while self.0.front().is_some_and(|&s| s <= t) {
            self.0.pop_front();
        }
    }

    /// Seconds until one more send fits `w` (and, when given, the cooldown); 0 if it fits now.
    fn wait(&mut self, w: SendWindow, cooldown: f64, now: f64) -> f64 {
        let period = w.period.as_secs_f64();
        self.forget_before(now - period);
        let mut wait: f64 = 0.0;
        if let (true, Some(&last)) = (cooldown > 0.0, self.0.back()) {
            wait = wait.max(last + cooldown - now);
        }
        if self.0.len() >= w.max as usize {
            // The send that has to leave the window first.
            let idx = self.0.len() - w.max as usize;
            wait = wait.max(self.0[idx] + period - now);
        }
        wait.max(0.0)
    }
}

/// Why a send was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over a limit: admitted again in this many whole seconds (≥ 1).
    Limited { retry_after: u64 },
    /// The shared counters (Redis) did not answer: no code is sent without them.
    Unavailable,
}

/// The send limits the server uses: in this process, or shared in Redis.
pub enum SendLimiter {
    Local(Box<SendLimits>),
    Shared(SharedSends),
}

impl SendLimiter {
    /// Admits one send of a code to `phone` for `client`, asked for from `ip`, and counts it
    /// under every key at once. Call it last, once every other check has passed.
    pub async fn admit(&self, phone: &Phone, ip: IpAddr, client: &str) -> Result<Ticket, Refused> {
        let limited = |retry_after| Refused::Limited { retry_after };
        match self {
            SendLimiter::Local(l) => l.admit(phone, ip, client).map_err(limited),
            SendLimiter::Shared(s) => {
                match s.admit(&phone.e164, &phone.country, ip, client).await {
                    Ok(r) => r.map_err(limited),
                    Err(_) => Err(Refused::Unavailable),
                }
            }
        }
    }

    /// Takes back an admitted send whose code was never handed to the sender (the store
    /// failed first). Best effort: when Redis does not answer, the send stays counted.
    pub async fn refund(&self, ticket: &Ticket) {
        match self {
            SendLimiter::Local(l) => l.refund(ticket),
            SendLimiter::Shared(s) => {
                if s.refund(ticket).await.is_err() {
                    tracing::debug!("could not refund a one-time-code send in Redis");
                }
            }
        }
    }

    /// Counts a wrong code for the number (checklist O6); the number of wrong codes it may
    /// still take within the window. When Redis does not answer: 0 (fail closed).
    pub async fn record_wrong(&self, e164: &str) -> u32 {
        match self {
            SendLimiter::Local(l) => l.record_wrong(e164),
            SendLimiter::Shared(s) => s.record_wrong(e164).await.unwrap_or(0),
        }
    }

    /// Whole seconds (≥ 1) until the number takes codes again, when it has had too many wrong
    /// ones; `None` when it is not locked. When Redis does not answer: locked for the cooldown.
    pub async fn locked_for(&self, e164: &str) -> Option<u64> {
        match self {
            SendLimiter::Local(l) => l.locked_for(e164),
            SendLimiter::Shared(s) => match s.locked_for(e164).await {
                Ok(w) => w,
                Err(_) => Some(whole_secs(s.cooldown().as_secs_f64())),
            },
        }
    }

    /// Whole seconds (≥ 1) until a code may be sent to this number again, by the number's own
    /// limits. When Redis does not answer: the cooldown (at least 1 s).
    pub async fn next_send_in(&self, e164: &str) -> u64 {
        match self {
            SendLimiter::Local(l) => l.next_send_in(e164),
            SendLimiter::Shared(s) => match s.next_send_in(e164).await {
                Ok(n) => n,
                Err(_) => whole_secs(s.cooldown().as_secs_f64()),
            },
        }
    }

    /// Forgets idle keys (Redis expires its own).
    pub fn prune(&self) {
        if let SendLimiter::Local(l) = self {
            l.prune();
        }
    }
}

#[derive(Default)]
struct Tables {
    numbers: HashMap<String, Sends>,
    ips: HashMap<IpKey, Sends>,
    countries: HashMap<String, Sends>,
    clients: HashMap<String, Sends>,
    /// Times of wrong codes, per number.
    wrong: HashMap<String, Sends>,
}

pub struct SendLimits {
    cfg: OtpSendLimits,
    tables: Mutex<Tables>,
    origin: Instant,
}

/// Seconds to whole seconds for `Retry-After`: rounded up, at least 1.
fn whole_secs(s: f64) -> u64 {
    (s.ceil() as u64).max(1)
}

/// Makes room for `key` in `map`: forgets idle keys when full. False when still full.
fn room_for<K: Eq + Hash>(map: &mut HashMap<K, Sends>, key: &K, period: f64, now: f64) -> bool {
    if map.contains_key(key) || map.len() < MAX_KEYS {
        return true;
    }
    map.retain(|_, s| {
        s.forget_before(now - period);
        !s.0.is_empty()
    });
    map.len() < MAX_KEYS
}

impl SendLimits {
    pub fn new(cfg: OtpSendLimits) -> Self {
        SendLimits {
            cfg,
            tables: Mutex::new(Tables::default()),
            origin: Instant::now(),
        }
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits one send of a code to `phone` for `client`, asked for from `ip`, and counts it; or
    /// says in how many whole seconds (≥ 1) it would be admitted. Call it last, once every
    /// other check has passed.
    pub fn admit(&self, phone: &Phone, ip: IpAddr, client: &str) -> Result<Ticket, u64> {
        let now = self.now();
        self.admit_at(&phone.e164, &phone.country, ip, client, now)?;
        Ok(Ticket {
            e164: phone.e164.clone(),
            country: phone.country.clone(),
            ip,
            client: client.to_string(),
            at: now,
            member: String::new(),
        })
    }

    fn admit_at(
        &self,
        e164: &str,
        country: &str,
        ip: IpAddr,
        client: &str,
        now: f64,
    ) -> Result<(), u64> {
        let c = self.cfg;
        let cooldown = c.resend_cooldown.as_secs_f64();
        let ip = ip_key(ip);
        let mut t = self.lock();
        let t = &mut *t;
        if let Some(w) = t.wrong.get_mut(e164) {
            let wait = w.wait(c.wrong_codes_per_number, 0.0, now);
            if wait > 0.0 {
                return Err(whole_secs(wait));
            }
        }
        let fits = room_for(
            &mut t.numbers,
            &e164.to_string(),
            c.per_number.period.as_secs_f64(),
            now,
        ) && room_for(&mut t.ips, &ip, c.per_ip.period.as_secs_f64(), now)
            && room_for(
                &mut t.countries,
                &country.to_string(),
                c.per_country.period.as_secs_f64(),
                now,
            )
            && room_for(
                &mut t.clients,
                &client.to_string(),
                c.per_client.period.as_secs_f64(),
                now,
            );
        if !fits {
            tracing::warn!("one-time-code send limits: key tables are full; refusing sends");
            return Err(FULL_RETRY_SECS);
        }
        let number = t.numbers.entry(e164.to_string()).or_default();
        let by_ip = t.ips.entry(ip).or_default();
        let by_country = t.countries.entry(country.to_string()).or_default();
        let by_client = t.clients.entry(client.to_string()).or_default();
        let wait = number
            .wait(c.per_number, cooldown, now)
            .max(by_ip.wait(c.per_ip, 0.0, now))
            .max(by_country.wait(c.per_country, 0.0, now))
            .max(by_client.wait(c.per_client, 0.0, now));
        if wait > 0.0 {
            return Err(whole_secs(wait));
        }
        number.0.push_back(now);
        by_ip.0.push_back(now);
        by_country.0.push_back(now);
        by_client.0.push_back(now);
        Ok(())
    }

    /// Takes back the send `ticket` recorded.
    pub fn refund(&self, ticket: &Ticket) {
        let mut t = self.lock();
        if let Some(s) = t.numbers.get_mut(&ticket.e164) {
            s.remove(ticket.at);
        }
        if let Some(s) = t.ips.get_mut(&ip_key(ticket.ip)) {
            s.remove(ticket.at);
        }
        if let Some(s) = t.countries.get_mut(&ticket.country) {
            s.remove(ticket.at);
        }
        if let Some(s) = t.clients.get_mut(&ticket.client) {
            s.remove(ticket.at);
        }
    }

    /// Counts a wrong code for the number; how many more it may take within the window.
    pub fn record_wrong(&self, e164: &str) -> u32 {
        self.record_wrong_at(e164, self.now())
    }

    fn record_wrong_at(&self, e164: &str, now: f64) -> u32 {
        let w = self.cfg.wrong_codes_per_number;
        let mut t = self.lock();
        if !room_for(&mut t.wrong, &e164.to_string(), w.period.as_secs_f64(), now) {
            tracing::warn!("one-time-code failure counts: key table is full; locking numbers");
            return 0;
        }
        let s = t.wrong.entry(e164.to_string()).or_default();
        s.forget_before(now - w.period.as_secs_f64());
        s.0.push_back(now);
        // Only the last `max` failures matter (the lock lasts until the oldest of them leaves).
        while s.0.len() > w.max as usize {
            s.0.pop_front();
        }
        w.max.saturating_sub(s.0.len() as u32)
    }

    /// Whole seconds until the number takes codes again, when it has had too many wrong ones.
    pub fn locked_for(&self, e164: &str) -> Option<u64> {
        let now = self.now();
        let mut t = self.lock();
        let wait = t
            .wrong
            .get_mut(e164)?
            .wait(self.cfg.wrong_codes_per_number, 0.0, now);
        (wait > 0.0).then(|| whole_secs(wait))
    }

    /// Whole seconds (≥ 1) until a code may be sent to this number again, counting only the
    /// number's own limits (nothing is recorded).
    pub fn next_send_in(&self, e164: &str) -> u64 {
        let now = self.now();
        let mut t = self.lock();
        let wait = t.numbers.get_mut(e164).map_or(0.0, |s| {
            s.wait(
                self.cfg.per_number,
                self.cfg.resend_cooldown.as_secs_f64(),
                now,
            )
        });
        whole_secs(wait)
    }

    /// Forgets keys with no send left in their window.
    pub fn prune(&self) {
        let now = self.now();
        let c = self.cfg;
        let mut t = self.lock();
        let keep = |period: std::time::Duration| {
            move |s: &mut Sends| {
                s.forget_before(now - period.as_secs_f64());
                !s.0.is_empty()
            }
        };
        let (n, i, k, l, w) = (
            keep(c.per_number.period),
            keep(c.per_ip.period),
            keep(c.per_country.period),
            keep(c.per_client.period),
            keep(c.wrong_codes_per_number.period),
        );
        t.numbers.retain(|_, s| n(s));
        t.ips.retain(|_, s| i(s));
        t.countries.retain(|_, s| k(s));
        t.clients.retain(|_, s| l(s));
        t.wrong.retain(|_, s| w(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const IP1: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const IP2: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn limits(cooldown: u64, number: u32, ip: u32, country: u32) -> SendLimits {
        let w = |max| SendWindow {
            max,
            period: Duration::from_secs(600),
        };
        SendLimits::new(OtpSendLimits {
            resend_cooldown: Duration::from_secs(cooldown),
            per_number: w(number),
            per_ip: w(ip),
            per_country: w(country),
            per_client: w(1000),
            wrong_codes_per_number: w(3),
        })
    }

    #[test]
    fn cooldown_then_window() {
        let l = limits(30, 3, 100, 100);
        let n = "+919876543210";
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 0.0), Ok(()));
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 10.0), Err(20));
        assert_eq!(l.admit_at(n, "IN", IP2, "c", 29.5), Err(1));
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 30.0), Ok(()));
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 60.0), Ok(()));
        // Three in the window: the fourth waits for the first to leave it (at 600).
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 100.0), Err(500));
        assert_eq!(l.admit_at(n, "IN", IP1, "c", 600.0), Ok(()));
        // Another number is not affected.
        assert_eq!(l.admit_at("+919876543211", "IN", IP1, "c", 600.0), Ok(()));
    }

    #[test]
    fn per_ip_and_per_country() {
        let l = limits(0, 100, 2, 3);
        assert_eq!(l.admit_at("+911", "IN", IP1, "c", 0.0), Ok(()));
        assert_eq!(l.admit_at("+912", "IN", IP1, "c", 1.0), Ok(()));
        assert_eq!(l.admit_at("+913", "IN", IP1, "c", 2.0), Err(598));
        assert_eq!(l.admit_at("+913", "IN", IP2, "c", 2.0), Ok(()));
        assert_eq!(l.admit_at("+914", "IN", IP2, "c", 3.0), Err(597));
        assert_eq!(l.admit_at("+15", "US", IP2, "c", 3.0), Ok(()));
        // A refused send is not counted anywhere.
        assert_eq!(l.admit_at("+16", "US", IP2, "c", 4.0), Err(598));
        assert_eq!(l.admit_at("+16", "US", IP1, "c", 600.5), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = limits(0, 100, 1, 100);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(l.admit_at("+911", "IN", a, "c", 0.0), Ok(()));
        assert!(l.admit_at("+912", "IN", b, "c", 0.0).is_err());
        assert_eq!(l.admit_at("+912", "IN", c, "c", 0.0), Ok(()));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(l.admit_at("+913", "IN", IP1, "c", 0.0), Ok(()));
        assert!(l.admit_at("+914", "IN", mapped, "c", 0.0).is_err());
    }

    #[test]
    fn next_send_in_and_prune() {
        let l = limits(30, 5, 100, 100);
        assert_eq!(l.next_send_in("+911"), 1);
        l.admit_at("+911", "IN", IP1, "c", l.now()).unwrap();
        let n = l.next_send_in("+911");
        assert!((29..=30).contains(&n), "{n}");
        l.prune();
        assert_eq!(l.lock().numbers.len(), 1);
    }

    #[test]
    fn per_client_and_refund() {
        let mut l = limits(0, 100, 100, 100);
        l.cfg.per_client.max = 2;
        assert_eq!(l.admit_at("+911", "IN", IP1, "a", 0.0), Ok(()));
        assert_eq!(l.admit_at("+912", "IN", IP1, "a", 1.0), Ok(()));
        assert_eq!(l.admit_at("+913", "IN", IP1, "a", 2.0), Err(598));
        assert_eq!(l.admit_at("+913", "IN", IP1, "b", 2.0), Ok(()));
        // A refund takes the send back from every key.
        let phone = Phone {
            e164: "+914".into(),
            country: "IN".into(),
        };
        let ticket = l.admit(&phone, IP2, "b").unwrap();
        assert_eq!(l.lock().clients["b"].0.len(), 2);
        l.refund(&ticket);
        let t = l.lock();
        assert_eq!(t.clients["b"].0.len(), 1);
        assert!(t.numbers["+914"].0.is_empty());
        assert_eq!(t.ips[&ip_key(IP2)].0.len(), 0);
        assert_eq!(t.countries["IN"].0.len(), 3);
    }

    #[test]
    fn wrong_codes_lock_the_number() {
        let l = limits(0, 100, 100, 100);
        assert_eq!(l.record_wrong_at("+911", 0.0), 2);
        assert_eq!(l.record_wrong_at("+911", 10.0), 1);
        assert_eq!(l.admit_at("+911", "IN", IP1, "c", 11.0), Ok(()));
        assert_eq!(l.record_wrong_at("+911", 20.0), 0);
        // Locked until the first failure leaves the window (at 600).
        assert_eq!(l.admit_at("+911", "IN", IP1, "c", 21.0), Err(579));
        assert_eq!(l.admit_at("+912", "IN", IP1, "c", 21.0), Ok(()));
        assert_eq!(l.admit_at("+911", "IN", IP1, "c", 600.0), Ok(()));
    }
}
