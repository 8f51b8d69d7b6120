//! One-time-code send limits in Redis: the rule of [`crate::otp::limits`] (a resend cooldown
//! and a sliding window per number, a sliding window per caller IP, per country and per
//! client, and the cap on wrong codes per number), checked and counted in one script call, so
//! a send is counted under all four keys or none.
//!
//! Each key is a sorted set of send times (microseconds of the Redis server's clock):
//! - `<prefix>otp:n:<hex of HMAC-SHA256(number key, E.164)>` — the number itself is never
//!   sent to Redis; the key is derived from the server secret, so every node sharing Redis
//!   must share `TCAUTH_SECRET` (which a cluster needs anyway);
//! - `<prefix>otp:ip:<IPv4>` or `<prefix>otp:ip:<IPv6 /64>::/64`;
//! - `<prefix>otp:cc:<country>`;
//! - `<prefix>otp:cl:<client_id>`;
//! - `<prefix>otp:f:<hex of the same HMAC>`: the times of wrong codes to the number (at most
//!   `max` kept); while it holds `max` within its period, no code is sent to the number.
//!
//! A send at `now` first forgets the times at or before `now - period`; it must then wait for
//! the cooldown (last send + cooldown, number only) and, when a window already holds `max`
//! sends, for the send that leaves it first (its time + period). It is admitted when there is
//! nothing to wait for, and recorded in all four sets under one random member; a refused send
//! records nothing, and a refund removes that member again. The sets expire one period
//! (number: the longer of period and cooldown) after their last send, and hold at most `max`
//! times each.

use super::{Script, Shared, Unavailable};
use crate::ip::ip_label;
use crate::settings::OtpSendLimits;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use tcauth_core::secret::{hex, hmac_sha256, random_bytes};

const SENDS_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cooldown = tonumber(ARGV[2])
local function wait(key, max, period, cd)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.17g', now - period))
  local w = 0
  if cd > 0 then
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if last[2] then w = math.max(w, tonumber(last[2]) + cd - now) end
  end
  local n = redis.call('ZCARD', key)
  if n >= max then
    local first = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
    w = math.max(w, tonumber(first[2]) + period - now)
  end
  return w
end
local w = wait(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]), cooldown)
if ARGV[1] == 'peek' then return math.ceil(w) end
w = math.max(w, wait(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), 0))
w = math.max(w, wait(KEYS[3], tonumber(ARGV[7]), tonumber(ARGV[8]), 0))
w = math.max(w, wait(KEYS[4], tonumber(ARGV[9]), tonumber(ARGV[10]), 0))
w = math.max(w, wait(KEYS[5], tonumber(ARGV[11]), tonumber(ARGV[12]), 0))
if w > 0 then return math.ceil(w) end
local score = string.format('%.17g', now)
local keep = {math.max(tonumber(ARGV[4]), cooldown), tonumber(ARGV[6]), tonumber(ARGV[8]),
  tonumber(ARGV[10])}
for i = 1, 4 do
  redis.call('ZADD', KEYS[i], score, ARGV[13])
  redis.call('PEXPIRE', KEYS[i], math.ceil(keep[i] / 1000) + 1)
end
return 0
"#;

/// Wrong codes to a number: `record` counts one and answers how many more the window takes;
/// `peek` answers the microseconds until the number takes codes again (0: not locked).
const WRONG_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max, period = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.17g', now - period))
if ARGV[1] == 'record' then
  redis.call('ZADD', KEYS[1], string.format('%.17g', now), ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(max + 1))
  redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000) + 1)
  return math.max(0, max - redis.call('ZCARD', KEYS[1]))
end
local n = redis.call('ZCARD', KEYS[1])
if n < max then return 0 end
local first = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
return math.ceil(tonumber(first[2]) + period - now)
"#;

/// Takes a refunded send's member out of every set it was recorded in.
const REFUND_LUA: &str = r#"
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 0
"#;

static WRONG: LazyLock<Script> = LazyLock::new(|| Script::new(WRONG_LUA));
static REFUND: LazyLock<Script> = LazyLock::new(|| Script::new(REFUND_LUA));
static SENDS: LazyLock<Script> = LazyLock::new(|| Script::new(SENDS_LUA));

/// Microseconds to whole seconds for `Retry-After`: rounded up, at least 1.
fn whole_secs(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(1_000_000).max(1)
}

/// A send that was admitted and counted: what `SendLimiter::refund` (in `otp::limits`) needs to take it back.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub(crate) e164: String,
    pub(crate) country: String,
    pub(crate) ip: IpAddr,
    pub(crate) client: String,
    /// The in-process limiter's send time.
    pub(crate) at: f64,
    /// The member the Redis script recorded.
    pub(crate) member: String,
}

impl Ticket {
    /// A send the Redis script recorded under `member`.
    pub(crate) fn shared(
        e164: &str,
        country: &str,
        ip: IpAddr,
        client: &str,
        member: String,
    ) -> Self {
        Ticket {
            e164: e164.to_string(),
            country: country.to_string(),
            ip,
            client: client.to_string(),
            at: 0.0,
            member,
        }
    }

    /// Number, country, IP, client and Redis member.
    pub(crate) fn parts(&self) -> (&str, &str, IpAddr, &str, &str) {
        (
            &self.e164,
            &self.country,
            self.ip,
            &self.client,
            &self.member,
        )
    }
}

/// The send limits, kept in Redis.
pub struct SharedSends {
    shared: Arc<Shared>,
    cfg: OtpSendLimits,
    /// Keys the HMAC that names a number's key.
    number_mac_key: [u8; 32],
}

impl SharedSends {
    pub fn new(shared: Arc<Shared>, cfg: OtpSendLimits, server_secret: &[u8]) -> Self {
        SharedSends {
            shared,
            cfg,
            number_mac_key: hmac_sha256(server_secret, b"tcauth redis key of a phone number"),
        }
    }

    /// The resend cooldown.
    pub fn cooldown(&self) -> std::time::Duration {
        self.cfg.resend_cooldown
    }

    /// The key of a number: 128 bits of its HMAC, in hex.
    pub fn number_key(&self, e164: &str) -> String {
        let mac = hmac_sha256(&self.number_mac_key, e164.as_bytes());
        self.shared.key(&format!("otp:n:{}", hex(&mac[..16])))
    }

    /// The key of a number's wrong codes.
    fn wrong_key(&self, e164: &str) -> String {
        let mac = hmac_sha256(&self.number_mac_key, e164.as_bytes());
        self.shared.key(&format!("otp:f:{}", hex(&mac[..16])))
    }

    /// The four keys a send is counted under.
    fn send_keys(&self, e164: &str, country: &str, ip: IpAddr, client: &str) -> [String; 4] {
        [
            self.number_key(e164),
            self.shared.key(&format!("otp:ip:{}", ip_label(ip))),
            self.shared.key(&format!("otp:cc:{country}")),
            self.shared.key(&format!("otp:cl:{client}")),
        ]
    }

    /// Every argument, in the script's order.
    fn args(&self, mode: &str, member: String) -> Vec<String> {
        let c = &self.cfg;
        let us = |d: std::time::Duration| d.as_micros().to_string();
        vec![
            mode.to_string(),
            us(c.resend_cooldown),
            c.per_number.max.to_string(),
            us(c.per_number.period),
            c.per_ip.max.to_string(),
            us(c.per_ip.period),
            c.per_country.max.to_string(),
            us(c.per_country.period),
            c.per_client.max.to_string(),
            us(c.per_client.period),
            c.wrong_codes_per_number.max.to_string(),
            us(c.wrong_codes_per_number.period),
            member,
        ]
    }

    /// Admits and counts one send, or says in how many whole seconds (≥ 1) it would be.
    pub async fn admit(
        &self,
        e164: &str,
        country: &str,
        ip: IpAddr,
        client: &str,
    ) -> Result<Result<Ticket, u64>, Unavailable> {
        let [n, i, c, l] = self.send_keys(e164, country, ip, client);
        let keys = [n, i, c, l, self.wrong_key(e164)];
        let member = hex(&random_bytes::<12>());
        let wait: i64 = self
            .shared
            .eval(&SENDS, &keys, &self.args("admit", member.clone()))
            .await?;
        Ok(if wait > 0 {
            Err(whole_secs(wait))
        } else {
            Ok(Ticket::shared(e164, country, ip, client, member))
        })
    }

    /// Takes a send back out of every set it was counted in.
    pub async fn refund(&self, ticket: &Ticket) -> Result<(), Unavailable> {
        let (e164, country, ip, client, member) = ticket.parts();
        let keys = self.send_keys(e164, country, ip, client);
        let _: i64 = self
            .shared
            .eval(&REFUND, &keys, &[member.to_string()])
            .await?;
        Ok(())
    }

    /// Counts a wrong code for the number; how many more the window takes.
    pub async fn record_wrong(&self, e164: &str) -> Result<u32, Unavailable> {
        let w = self.cfg.wrong_codes_per_number;
        let args = [
            "record".to_string(),
            w.max.to_string(),
            w.period.as_micros().to_string(),
            hex(&random_bytes::<12>()),
        ];
        let left: i64 = self
            .shared
            .eval(&WRONG, &[self.wrong_key(e164)], &args)
            .await?;
        Ok(left.clamp(0, u32::MAX as i64) as u32)
    }

    /// Whole seconds until the number takes codes again, when it has had too many wrong ones.
    pub async fn locked_for(&self, e164: &str) -> Result<Option<u64>, Unavailable> {
        let w = self.cfg.wrong_codes_per_number;
        let args = [
            "peek".to_string(),
            w.max.to_string(),
            w.period.as_micros().to_string(),
        ];
        let wait: i64 = self
            .shared
            .eval(&WRONG, &[self.wrong_key(e164)], &args)
            .await?;
        Ok((wait > 0).then(|| whole_secs(wait)))
    }

    /// Whole seconds (≥ 1) until a code may be sent to this number again, by the number's own
    /// limits (nothing is recorded).
    pub async fn next_send_in(&self, e164: &str) -> Result<u64, Unavailable> {
        let wait: i64 = self
            .shared
            .eval(
                &SENDS,
                &[self.number_key(e164)],
                &self.args("peek", String::new()),
            )
            .await?;
        Ok(whole_secs(wait))
    }
}
