//! Prometheus text metrics, kept with plain atomics and one short lock per request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What is known of one endpoint: answers by status, and the latency histogram.
#[derive(Default)]
struct Endpoint {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    /// By endpoint (route template). One short lock per request; a key is allocated only the
    /// first time an endpoint is seen.
    endpoints: Mutex<BTreeMap<String, Endpoint>>,
    pub access_tokens: AtomicU64,
    pub refresh_tokens: AtomicU64,
    pub id_tokens: AtomicU64,
    pub rate_limited: AtomicU64,
    pub shed: AtomicU64,
    /// Store calls that failed or timed out (the log shows at most one a second).
    pub store_failures: Arc<AtomicU64>,
    /// Redis calls that failed, timed out or found no connection (shared with
    /// [`crate::shared::Shared`]).
    pub redis_failures: Arc<AtomicU64>,
    /// Admin requests with a wrong or missing token (answered 401).
    pub admin_auth_failures: AtomicU64,
    /// Admin requests refused 429 because their address had too many failures.
    pub admin_locked_out: AtomicU64,
    /// What the accept loop saw ([`crate::listener`]).
    pub connections: ConnectionMetrics,
    /// Mobile Websites callback deliveries (`crate::callbacks::worker`).
    pub callbacks: CallbackMetrics,
}

/// Callback deliveries: pending in the store (a gauge the worker refreshes), and this node's
/// attempts by result.
#[derive(Default)]
pub struct CallbackMetrics {
    pub pending: AtomicU64,
    /// Attempts answered 2xx.
    pub delivered: AtomicU64,
    /// Failed attempts to be tried again.
    pub retried: AtomicU64,
    /// Attempts after which the delivery was given up (refusals included).
    pub failed: AtomicU64,
    /// Of those, the ones refused by the address policy (link-local, `callback_deny_networks`).
    pub refused: AtomicU64,
}

impl CallbackMetrics {
    fn render(&self, s: &mut String) {
        let c = |a: &AtomicU64| a.load(Relaxed);
        s.push_str(
            "# HELP tcauth_callback_deliveries_pending Mobile Websites callbacks waiting in \
             the store to be delivered (all nodes; refreshed about once a second).\n",
        );
        s.push_str("# TYPE tcauth_callback_deliveries_pending gauge\n");
        let _ = writeln!(s, "tcauth_callback_deliveries_pending {}", c(&self.pending));
        s.push_str(
            "# HELP tcauth_callback_attempts_total Callback attempts made by this node, by \
             result: delivered (2xx), retried (failed, tried again later), failed (given up).\n",
        );
        s.push_str("# TYPE tcauth_callback_attempts_total counter\n");
        for (result, v) in [
            ("delivered", &self.delivered),
            ("retried", &self.retried),
            ("failed", &self.failed),
        ] {
            let _ = writeln!(
                s,
                "tcauth_callback_attempts_total{{result=\"{result}\"}} {}",
                c(v)
            );
        }
        s.push_str(
            "# HELP tcauth_callback_refused_total Callbacks given up because their address is \
             link-local or in callback_deny_networks (counted in failed too).\n",
        );
        s.push_str("# TYPE tcauth_callback_refused_total counter\n");
        let _ = writeln!(s, "tcauth_callback_refused_total {}", c(&self.refused));
    }
}

/// Connections: open now, accepted, closed at a cap, timed out; failed accepts.
#[derive(Default)]
pub struct ConnectionMetrics {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected_global_cap: AtomicU64,
    pub rejected_ip_cap: AtomicU64,
    pub timed_out_header: AtomicU64,
    pub timed_out_idle: AtomicU64,
    pub accept_errors: AtomicU64,
}

impl ConnectionMetrics {
    fn render(&self, s: &mut String) {
        let c = |a: &AtomicU64| a.load(Relaxed);
        s.push_str("# HELP tcauth_connections_open Connections open now.\n");
        s.push_str("# TYPE tcauth_connections_open gauge\n");
        let _ = writeln!(s, "tcauth_connections_open {}", c(&self.open));
        s.push_str(
            "# HELP tcauth_connections_accepted_total Connections accepted (those closed at \
             once over a cap included).\n",
        );
        s.push_str("# TYPE tcauth_connections_accepted_total counter\n");
        let _ = writeln!(s, "tcauth_connections_accepted_total {}", c(&self.accepted));
        s.push_str(
            "# HELP tcauth_connections_rejected_total Connections closed right after accept, \
             over max_connections (global_cap) or max_connections_per_ip (ip_cap).\n",
        );
        s.push_str("# TYPE tcauth_connections_rejected_total counter\n");
        for (reason, v) in [
            ("global_cap", &self.rejected_global_cap),
            ("ip_cap", &self.rejected_ip_cap),
        ] {
            let _ = writeln!(
                s,
                "tcauth_connections_rejected_total{{reason=\"{reason}\"}} {}",
                c(v)
            );
        }
        s.push_str(
            "# HELP tcauth_connections_timed_out_total Connections closed because a request \
             head took longer than header_read_timeout (header) or nothing happened for \
             idle_timeout (idle).\n",
        );
        s.push_str("# TYPE tcauth_connections_timed_out_total counter\n");
        for (reason, v) in [
            ("header", &self.timed_out_header),
            ("idle", &self.timed_out_idle),
        ] {
            let _ = writeln!(
                s,
                "tcauth_connections_timed_out_total{{reason=\"{reason}\"}} {}",
                c(v)
            );
        }
        s.push_str(
            "# HELP tcauth_accept_errors_total Failed accepts (such as too many open files).\n",
        );
        s.push_str("# TYPE tcauth_accept_errors_total counter\n");
        let _ = writeln!(s, "tcauth_accept_errors_total {}", c(&self.accept_errors));
    }
}

impl Metrics {
    pub fn record(&self, endpoint: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let first = BUCKETS.partition_point(|le| secs > *le);
        let mut all = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        let ep = match all.get_mut(endpoint) {
            Some(ep) => ep,
            None => all.entry(endpoint.to_string()).or_default(),
        };
        *ep.statuses.entry(status).or_default() += 1;
        let h = &mut ep.latency;
        for c in &mut h.counts[first..] {
            *c += 1;
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        s.push_str("# HELP tcauth_http_requests_total HTTP requests by endpoint and status.\n");
        s.push_str("# TYPE tcauth_http_requests_total counter\n");
        let all = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        for (ep, e) in all.iter() {
            for (st, n) in &e.statuses {
                let _ = writeln!(
                    s,
                    "tcauth_http_requests_total{{endpoint=\"{ep}\",status=\"{st}\"}} {n}"
                );
            }
        }
        s.push_str("# HELP tcauth_http_request_duration_seconds Time to answer, by endpoint.\n");
        s.push_str("# TYPE tcauth_http_request_duration_seconds histogram\n");
        for (ep, h) in all.iter().map(|(ep, e)| (ep, &e.latency)) {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "tcauth_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                s,
                "tcauth_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                s,
                "tcauth_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                s,
                "tcauth_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {}",
                h.count
            );
        }
        drop(all);
        s.push_str("# HELP tcauth_tokens_issued_total Tokens issued, by kind.\n");
        s.push_str("# TYPE tcauth_tokens_issued_total counter\n");
        for (kind, c) in [
            ("access", &self.access_tokens),
            ("refresh", &self.refresh_tokens),
            ("id_token", &self.id_tokens),
        ] {
            let _ = writeln!(
                s,
                "tcauth_tokens_issued_total{{kind=\"{kind}\"}} {}",
                c.load(Relaxed)
            );
        }
        s.push_str("# HELP tcauth_rate_limited_total Requests answered 429.\n");
        s.push_str("# TYPE tcauth_rate_limited_total counter\n");
        let _ = writeln!(
            s,
            "tcauth_rate_limited_total {}",
            self.rate_limited.load(Relaxed)
        );
        s.push_str(
            "# HELP tcauth_shed_total Requests shed with 503 because too many were in flight.\n",
        );
        s.push_str("# TYPE tcauth_shed_total counter\n");
        let _ = writeln!(s, "tcauth_shed_total {}", self.shed.load(Relaxed));
        s.push_str(
            "# HELP tcauth_store_failures_total Store calls that failed or timed out (logged at \
             most once a second).\n",
        );
        s.push_str("# TYPE tcauth_store_failures_total counter\n");
        let _ = writeln!(
            s,
            "tcauth_store_failures_total {}",
            self.store_failures.load(Relaxed)
        );
        s.push_str(
            "# HELP tcauth_redis_failures_total Redis calls that failed or timed out: rate \
             limits fell back to this process, one-time-code sends were refused.\n",
        );
        s.push_str("# TYPE tcauth_redis_failures_total counter\n");
        let _ = writeln!(
            s,
            "tcauth_redis_failures_total {}",
            self.redis_failures.load(Relaxed)
        );
        s.push_str(
            "# HELP tcauth_admin_auth_failures_total Admin requests with a wrong or missing \
             token (401).\n",
        );
        s.push_str("# TYPE tcauth_admin_auth_failures_total counter\n");
        let _ = writeln!(
            s,
            "tcauth_admin_auth_failures_total {}",
            self.admin_auth_failures.load(Relaxed)
        );
        s.push_str(
            "# HELP tcauth_admin_auth_locked_out_total Admin requests refused (429) because \
             their address had too many failed authentications.\n",
        );
        s.push_str("# TYPE tcauth_admin_auth_locked_out_total counter\n");
        let _ = writeln!(
            s,
            "tcauth_admin_auth_locked_out_total {}",
            self.admin_locked_out.load(Relaxed)
        );
        self.connections.render(&mut s);
        self.callbacks.render(&mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::default();
        m.record("/v1/token", 200, Duration::from_millis(3));
        m.record("/v1/token", 200, Duration::from_millis(30));
        Metrics::inc(&m.shed);
        let s = m.render();
        assert!(s.contains("tcauth_http_requests_total{endpoint=\"/v1/token\",status=\"200\"} 2\n"));
        assert!(s.contains(
            "tcauth_http_request_duration_seconds_bucket{endpoint=\"/v1/token\",le=\"0.005\"} 1\n"
        ));
        assert!(s.contains(
            "tcauth_http_request_duration_seconds_bucket{endpoint=\"/v1/token\",le=\"+Inf\"} 2\n"
        ));
        assert!(s.contains("tcauth_shed_total 1\n"));
        Metrics::inc(&m.connections.rejected_ip_cap);
        let s = m.render();
        assert!(s.contains("tcauth_connections_open 0\n"));
        assert!(s.contains("tcauth_connections_rejected_total{reason=\"ip_cap\"} 1\n"));
        assert!(s.contains("tcauth_connections_timed_out_total{reason=\"idle\"} 0\n"));
        m.callbacks.pending.store(3, Relaxed);
        Metrics::inc(&m.callbacks.retried);
        let s = m.render();
        assert!(s.contains("tcauth_callback_deliveries_pending 3\n"));
        assert!(s.contains("tcauth_callback_attempts_total{result=\"retried\"} 1\n"));
        assert!(s.contains("tcauth_callback_attempts_total{result=\"delivered\"} 0\n"));
    }
}
