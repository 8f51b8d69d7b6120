//! The callback worker: a background task of every node (started by `serve`) that delivers
//! the outbox (CONTRACT.md §9, "Delivery").
//!
//! Every `callback_poll_interval`, or at once when this node queued one (`callbacks_wake`), it
//! leases the due deliveries ([`Store::claim_deliveries`](tcauth_store::Store::claim_deliveries),
//! at most as many as it has free slots for, for [`LEASE`]) and attempts them concurrently, at
//! most [`CONCURRENCY`] at a time. The lease is what makes one node, and one attempt at a
//! time, responsible for a delivery: PostgreSQL skips rows another node holds (`FOR UPDATE
//! SKIP LOCKED`), and a lease outlives its attempt ([`TIMEOUT`]) by far, so it runs out only
//! when a node died during an attempt, and then another node tries again.
//!
//! An attempt POSTs the queued body with `X-Tcauth-Delivery` (the delivery's id, the same on
//! every retry) and `X-Tcauth-Signature`; a 2xx within [`TIMEOUT`] is delivered; anything else
//! (a 3xx too: redirects are never followed) is tried again after an exponential back-off
//! with jitter (`callback_retry_base` doubled per attempt, at most [`MAX_BACKOFF`]) until the
//! next attempt would fall after the delivery's expiry: then it failed. An address the
//! [`guard`](super::guard) refuses, a deleted client, a client whose `callback_url` was
//! cleared or changed since (the new URL came with a new secret, and the old URL's host may
//! no longer be the client's) and a body that does not open fail at once. `last_error` says
//! why in a few words: never the body, the token or the URL's query.
//!
//! A stopping server lets the attempts in flight finish and be recorded, up to [`DRAIN`].

use super::guard::{self, Refused};
use super::{open_body, signature, DELIVERY_HEADER, SIGNATURE_HEADER};
use crate::metrics::Metrics;
use crate::state::{App, AppState};
use crate::throttle::Throttle;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcauth_core::model::{AttemptOutcome, CallbackDelivery};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The longest a receiver may take to answer (connection included).
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// How long a claimed delivery is this node's: ten times an attempt's timeout.
pub const LEASE: Duration = Duration::from_secs(30);
/// Attempts in flight at once on one node.
pub const CONCURRENCY: usize = 32;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a stopping node waits for its attempts in flight to finish and be recorded (an
/// attempt dropped half-way keeps its lease, and its delivery waits for the lease to end).
pub const DRAIN: Duration = Duration::from_secs(5);
/// How often the pending-deliveries gauge is refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// The HTTP client of every attempt: [`TIMEOUT`], no redirects, no proxy, no connection
/// pool (each attempt resolves and checks the host again), and the [`guard::Vetted`]
/// resolver.
pub fn http_client(app: &AppState) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .user_agent(concat!("tcauth/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(guard::Vetted {
            deny: Arc::from(app.settings.callback_deny_networks.clone()),
        }))
        .build()
        .map_err(|e| format!("cannot build the callback HTTP client: {e}"))
}

/// A store call of the worker, under `store_timeout`. Not through `AppState::db`: the
/// worker's calls in an outage (five a second per node) would swell
/// `tcauth_store_failures_total`, which counts what requests met; the worker logs its own.
async fn store<T>(
    app: &AppState,
    f: impl std::future::Future<Output = tcauth_store::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(app.settings.store_timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within store_timeout ({} ms)",
            app.settings.store_timeout.as_millis()
        )),
    }
}

/// Runs until `stop` turns true (or its sender is dropped): then claims nothing more, waits up
/// to [`DRAIN`] for the attempts in flight, and returns. Dropping it drops them.
pub async fn run(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let http = match http_client(&app) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "callback deliveries are off");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut attempts = JoinSet::new();
    let mut tick = tokio::time::interval(app.settings.callback_poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let store_errors = Throttle::every(Duration::from_secs(10));
    let mut gauge_at: Option<Instant> = None;
    // When the last claim filled every free slot, more may be due: claim again as soon as an
    // attempt finishes instead of at the next tick.
    let mut more = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.callbacks_wake.notified() => {}
            Some(_) = attempts.join_next(), if more => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        while attempts.try_join_next().is_some() {}
        if gauge_at.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
            gauge_at = Some(Instant::now());
            let count = tokio::select! {
                n = store(&app, app.store.count_pending_deliveries()) => n,
                _ = stop.wait_for(|stopped| *stopped) => break,
            };
            if let Ok(n) = count {
                app.metrics
                    .callbacks
                    .pending
                    .store(n, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let free = slots.available_permits();
        more = false;
        if free == 0 {
            more = !attempts.is_empty();
            continue;
        }
        let now = crate::now_ms() as i64;
        let lease_until = now + LEASE.as_millis() as i64;
        // A stop during a claim the store is slow to answer drops it: if it committed after
        // all, its deliveries wait for their leases to end.
        let claimed = tokio::select! {
            due = store(&app, app.store.claim_deliveries(now, lease_until, free)) => due,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let due = match claimed {
            Ok(due) => due,
            Err(e) => {
                if let Some(left_out) = store_errors.allow(now as u64) {
                    tracing::warn!(error = %e, left_out, "callback worker: store error");
                }
                continue;
            }
        };
        more = due.len() == free;
        for d in due {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break; // cannot happen: at most `free` were claimed
            };
            let (app, http) = (app.clone(), http.clone());
            attempts.spawn(async move {
                deliver(&app, &http, d).await;
                drop(slot);
            });
        }
    }
    let drained = tokio::time::timeout(DRAIN, async {
        while attempts.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = attempts.len(),
            "callback attempts still in flight at shutdown were dropped; their deliveries \
             are attempted again when their leases end"
        );
    }
}

/// One attempt of `d`, and its outcome recorded.
async fn deliver(app: &AppState, http: &reqwest::Client, d: CallbackDelivery) {
    let Some(outcome) = attempt(app, http, &d).await else {
        return; // the store did not answer: the lease runs out and the attempt is made again
    };
    let m = &app.metrics.callbacks;
    match &outcome {
        AttemptOutcome::Delivered { .. } => Metrics::inc(&m.delivered),
        AttemptOutcome::Retry { error, .. } => {
            Metrics::inc(&m.retried);
            tracing::info!(delivery = %d.id, client_id = %d.client_id, attempt = d.attempts + 1,
                error = %error, "callback attempt failed; will retry");
        }
        AttemptOutcome::Failed { error } => {
            Metrics::inc(&m.failed);
            if error.starts_with("refused: ") {
                Metrics::inc(&m.refused);
            }
            tracing::warn!(delivery = %d.id, client_id = %d.client_id, attempt = d.attempts + 1,
                error = %error, "callback delivery failed");
        }
    }
    match store(app, app.store.record_delivery_attempt(&d.id, &outcome)).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(delivery = %d.id, error = %e,
            "could not record a callback attempt; it will be made again when its lease ends"),
    }
}

/// What one attempt of `d` comes to; `None` when the store did not answer the client lookup.
async fn attempt(
    app: &AppState,
    http: &reqwest::Client,
    d: &CallbackDelivery,
) -> Option<AttemptOutcome> {
    let failed = |error: String| Some(AttemptOutcome::Failed { error });
    let now = crate::now();
    if now >= d.expires_at {
        return failed(expired(d.last_error.as_deref()));
    }
    let Some(body) = open_body(&app.settings.secret, &d.id, &d.body_sealed) else {
        return failed("the queued body does not open with this server's secret".into());
    };
    let client = store(app, app.store.get_client(&d.client_id)).await.ok()?;
    let Some(client) = client else {
        return failed("the client was deleted".into());
    };
    match client.callback_url.as_deref() {
        None => return failed("the client's callback_url was cleared".into()),
        // Setting it again gave the client a new secret, which the old URL's owner does not
        // hold; and a URL the client moved away from (a lapsed domain) gets no token.
        Some(current) if current != d.url => {
            return failed("the client's callback_url changed since it was queued".into())
        }
        Some(_) => {}
    }
    let Some(salt) = client.callback_salt.as_deref() else {
        return failed("the client has no callback secret".into());
    };
    let url = match reqwest::Url::parse(&d.url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => u,
        _ => return failed("the callback URL is not an http(s) URL".into()),
    };
    // IP literals are not resolved, so reqwest never shows them to the resolver.
    let Some(host) = url.host_str() else {
        return failed("the callback URL has no host".into());
    };
    // The URL parser writes IPv4 literals in their one dotted form and IPv6 ones bracketed.
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>();
    if let Ok(ip) = literal {
        if let Err(Refused(why)) = guard::check(ip, &app.settings.callback_deny_networks) {
            return failed(why);
        }
    }
    let sig = signature(&super::secret(&app.settings.secret, salt), &body);
    let sent = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, &d.id)
        .header(SIGNATURE_HEADER, sig)
        .body(body)
        .send()
        .await;
    let error = match sent {
        Ok(resp) if resp.status().is_success() => {
            return Some(AttemptOutcome::Delivered { at: crate::now() });
        }
        Ok(resp) if resp.status().is_redirection() => {
            format!(
                "HTTP {} (redirects are not followed)",
                resp.status().as_u16()
            )
        }
        Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
        Err(e) => {
            if let Some(Refused(why)) = guard::refusal(&e) {
                return failed(why);
            }
            describe(&e)
        }
    };
    Some(retry_or_fail(
        app.settings.callback_retry_base,
        d,
        error,
        crate::now_ms() as i64,
        tcauth_core::secret::random_bytes::<8>(),
    ))
}

fn expired(last: Option<&str>) -> String {
    match last {
        Some(last) => format!("expired before a 2xx (last error: {last})"),
        None => "expired before a 2xx".into(),
    }
}

/// A few words on a transport error: timeout, or the innermost cause (`Connection refused (os
/// error 111)`), never the URL.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let what = if e.is_connect() { "connect" } else { "request" };
    // reqwest's own text names the URL (whose query may carry a partner's credential): only
    // its causes are shown.
    let Some(mut inner) = std::error::Error::source(e) else {
        return format!("{what}: failed");
    };
    while let Some(next) = inner.source() {
        inner = next;
    }
    let mut text = format!("{what}: {inner}");
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// The back-off before the attempt after `attempts` failed ones: `base · 2^(attempts−1)`, at
/// most [`MAX_BACKOFF`], times a random factor in [0.5, 1) (`random` is its source).
pub fn backoff(base: Duration, attempts: u32, random: [u8; 8]) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let full = base.saturating_mul(1 << exp).min(MAX_BACKOFF);
    let r = (u64::from_le_bytes(random) >> 11) as f64 / (1u64 << 53) as f64;
    full.mul_f64(0.5 + r / 2.0)
}

/// Retry after the back-off, or fail if that falls after the delivery's expiry.
fn retry_or_fail(
    base: Duration,
    d: &CallbackDelivery,
    error: String,
    now_ms: i64,
    random: [u8; 8],
) -> AttemptOutcome {
    let next = now_ms + backoff(base, d.attempts + 1, random).as_millis() as i64;
    if next >= d.expires_at.saturating_mul(1000) {
        AttemptOutcome::Failed {
            error: expired(Some(&error)),
        }
    } else {
        AttemptOutcome::Retry {
            error,
            next_attempt_at_ms: next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcauth_core::model::DeliveryStatus;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let lo = [0u8; 8];
        let hi = [0xff; 8];
        assert_eq!(backoff(base, 1, lo), Duration::from_millis(500));
        assert!(backoff(base, 1, hi) <= Duration::from_secs(1));
        assert!(backoff(base, 1, hi) > Duration::from_millis(999));
        assert_eq!(backoff(base, 2, lo), Duration::from_secs(1));
        assert_eq!(backoff(base, 3, lo), Duration::from_secs(2));
        assert_eq!(backoff(base, 7, lo), Duration::from_secs(30));
        assert_eq!(backoff(base, 8, lo), Duration::from_secs(30));
        assert_eq!(backoff(base, u32::MAX, lo), Duration::from_secs(30));
        assert!(backoff(base, u32::MAX, hi) <= MAX_BACKOFF);
    }

    #[test]
    fn a_retry_past_the_expiry_is_a_failure() {
        let d = CallbackDelivery {
            id: "d".into(),
            client_id: "c".into(),
            request_id: "r".into(),
            url: "https://a.example/cb".into(),
            body_sealed: vec![],
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at_ms: 0,
            expires_at: 100,
            created_at: 0,
            delivered_at: None,
        };
        let base = Duration::from_secs(1);
        assert_eq!(
            retry_or_fail(base, &d, "HTTP 500".into(), 90_000, [0; 8]),
            AttemptOutcome::Retry {
                error: "HTTP 500".into(),
                next_attempt_at_ms: 90_500
            }
        );
        assert_eq!(
            retry_or_fail(base, &d, "HTTP 500".into(), 99_600, [0; 8]),
            AttemptOutcome::Failed {
                error: "expired before a 2xx (last error: HTTP 500)".into()
            }
        );
    }
}
