//! What every request handler shares.

use crate::keys::KeyRing;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::otp::OtpService;
use crate::settings::Settings;
use crate::signer::SignerPool;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use tcauth_store::{Store, StoreError};

pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub keys: KeyRing,
    /// The threads that sign id_tokens.
    pub signer: SignerPool,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    /// One-time codes: sender, send limits, MAC key.
    pub otp: OtpService,
    /// Discovery document, built once.
    pub discovery: Value,
}

pub type App = Arc<AppState>;

/// Why a store call gave no answer a handler can use.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Timed out or unreachable: answer 503 (or what the endpoint's contract says).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data: answer 500.
    #[error("{0}")]
    Internal(String),
    #[error("conflict: {0}")]
    Conflict(String),
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => DbError::Unavailable(m),
            StoreError::Conflict(m) => DbError::Conflict(m),
            StoreError::Internal(m) => DbError::Internal(m),
        }
    }
}

impl AppState {
    /// Runs a store call under the configured timeout.
    pub async fn db<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: Future<Output = tcauth_store::Result<T>>,
    {
        match tokio::time::timeout(self.settings.store_timeout, f).await {
            Ok(r) => r.map_err(|e| {
                let e = DbError::from(e);
                if !matches!(e, DbError::Conflict(_)) {
                    tracing::warn!(error = %e, "store call failed");
                }
                e
            }),
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.settings.store_timeout.as_millis() as u64,
                    "store call timed out"
                );
                Err(DbError::Unavailable("timed out".into()))
            }
        }
    }
}
