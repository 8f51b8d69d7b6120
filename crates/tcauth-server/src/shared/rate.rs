//! Request rate limits in Redis: GCRA (the generic cell rate algorithm), which admits exactly
//! what the in-process token bucket admits (`burst` at once, then `per_second`) and keeps one
//! number per bucket.
//!
//! The key (`<prefix>rl:c:<client_id>` or `<prefix>rl:ip:<ip>`) holds the bucket's
//! theoretical arrival time (TAT), in microseconds of the Redis server's clock. A request at
//! `now` is admitted when `max(TAT, now) + T - burst·T <= now` (T = 1 s / per_second), and then
//! sets TAT to `max(TAT, now) + T`; otherwise it waits that difference, and nothing changes.
//! The key expires when the bucket would be full again (TAT in the past means full), so idle
//! buckets cost nothing. The limits are sent with every call, so a per-client override set on
//! a node applies at once to that node's requests.

use super::{Script, Shared, Unavailable};
use std::sync::{Arc, LazyLock};
use tcauth_core::model::RateLimit;
use tcauth_core::ratelimit::Decision;

const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat + interval - interval * burst - now
if wait > 0 then
  return {0, math.ceil(wait)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.17g', new_tat),
  'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"#;

static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA_LUA));

/// The Redis key (after the prefix) of a client's bucket.
pub fn client_key(client_id: &str) -> String {
    format!("rl:c:{client_id}")
}

/// The Redis key (after the prefix) of an IP's bucket.
pub fn ip_key(ip: std::net::IpAddr) -> String {
    format!("rl:ip:{ip}")
}

/// The Redis key (after the prefix) of an address's failed admin authentications.
pub fn admin_failures_key(ip: std::net::IpAddr) -> String {
    format!("adm:ip:{ip}")
}

/// Takes one request from the bucket `key` (see [`client_key`], [`ip_key`]) with limit `rl`.
pub async fn take(shared: &Arc<Shared>, key: &str, rl: RateLimit) -> Result<Decision, Unavailable> {
    take_every(shared, key, 1e6 / f64::from(rl.per_second.max(1)), rl.burst).await
}

/// Takes one from the bucket `key` that holds `burst` and refills one per `interval_us`
/// microseconds (which may be longer than a second).
pub async fn take_every(
    shared: &Arc<Shared>,
    key: &str,
    interval_us: f64,
    burst: u32,
) -> Result<Decision, Unavailable> {
    let (admitted, wait_us): (i64, i64) = shared
        .eval(
            &GCRA,
            &[shared.key(key)],
            &[interval_us.to_string(), burst.max(1).to_string()],
        )
        .await?;
    Ok(if admitted == 1 {
        Decision::Allow
    } else {
        Decision::Deny {
            retry_after: (wait_us.max(0) as u64).div_ceil(1_000_000).max(1),
        }
    })
}

/// Gives back one taken by [`take_every`]: moves the TAT back by one interval (a bucket that
/// is then full is deleted).
const GIVE_BACK_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
tat = tat - interval
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.17g', tat),
    'PX', math.ceil((tat - now) / 1000) + 1)
end
return 1
"#;

static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| Script::new(GIVE_BACK_LUA));

/// Puts back one taken from `key` by [`take_every`] with the same `interval_us`.
pub async fn give_back(
    shared: &Arc<Shared>,
    key: &str,
    interval_us: f64,
) -> Result<(), Unavailable> {
    let _: i64 = shared
        .eval(&GIVE_BACK, &[shared.key(key)], &[interval_us.to_string()])
        .await?;
    Ok(())
}
