//! [`StoreCalls`]: the store as every handler calls it, under the configured timeout, with
//! failures counted and logged at most once a second. Its own module (not `state`) so that the
//! services `AppState` holds (`otp::OtpService`) can call the store without naming `AppState`.

use crate::metrics::Metrics;
use crate::throttle::Throttle;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tcauth_store::{Store, StoreError};

pub struct StoreCalls {
    pub store: Arc<dyn Store>,
    timeout: Duration,
    /// `tcauth_store_failures_total`.
    failures: Arc<AtomicU64>,
    log: Throttle,
}

impl StoreCalls {
    pub fn new(store: Arc<dyn Store>, timeout: Duration, failures: Arc<AtomicU64>) -> Self {
        StoreCalls {
            store,
            timeout,
            failures,
            log: Throttle::default(),
        }
    }

    /// Runs a store call under the timeout: a timeout is [`StoreError::Unavailable`]; an
    /// outage or a bug (not a conflict, which the caller handles) is counted and logged.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: Future<Output = tcauth_store::Result<T>>,
    {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(|e| {
                if !matches!(e, StoreError::Conflict(_)) {
                    if let Some(left_out) = self.failed() {
                        tracing::warn!(error = %e, left_out, "store call failed");
                    }
                }
                e
            }),
            Err(_) => {
                if let Some(left_out) = self.failed() {
                    tracing::warn!(
                        timeout_ms = self.timeout.as_millis() as u64,
                        left_out,
                        "store call timed out"
                    );
                }
                Err(StoreError::Unavailable("timed out".into()))
            }
        }
    }

    /// Counts a failed store call; `Some(lines left out)` when it is to be logged.
    fn failed(&self) -> Option<u64> {
        Metrics::inc(&self.failures);
        self.log.allow(crate::now_ms())
    }
}
