//! What every request handler shares.

use crate::db::StoreCalls;
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
    /// The store under its timeout, as every store call goes (`AppState::db`).
    pub store_calls: StoreCalls,
    /// Failed admin authentications per address, and their log throttles.
    pub admin_lockout: crate::lockout::AdminLockout,
    /// Wakes this node's callback worker: whoever queues a delivery calls `notify_one()` after
    /// the store committed it, so the first attempt is made at once rather than at the next
    /// poll. (Other nodes find it when they next poll the store.)
    pub callbacks_wake: tokio::sync::Notify,
}

pub type App = Arc<AppState>;

impl AppState {
    /// Runs a store call under the configured timeout (see [`StoreCalls::run`]). The caller's
    /// surface turns an error into its answer (`crate::error`).
    pub async fn db<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: Future<Output = tcauth_store::Result<T>>,
    {
        self.store_calls.run(f).await
    }

    /// Says that a callback delivery was just queued, so this node attempts it at once.
    pub fn callbacks_queued(&self) {
        self.callbacks_wake.notify_one();
    }
}
