//! The tcauth HTTP server: routes, endpoints, admission control, metrics and the background
//! sweeper. [`serve`] is the seam the binary and the tests use.
//!
//! Layout: [`routes`] is the table of paths; [`oauth`] holds one module per public endpoint;
//! [`grants`] the token endpoint's grants (no HTTP inside); [`admin`] the admin API; [`error`]
//! the one error type that renders the contract's exact bodies.

pub mod admin;
pub mod callbacks;
pub mod db;
pub mod error;
pub mod form;
pub mod grants;
pub mod ip;
pub mod keys;
pub mod limiter;
pub mod listener;
pub mod lockout;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod otp;
pub mod pages;
pub mod routes;
pub mod settings;
pub mod shared;
pub mod signed;
pub mod signer;
pub mod state;
pub mod throttle;
pub mod verification;

pub use settings::{Secret, Settings};

use state::{App, AppState};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tcauth_store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error("signing keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Unix time in seconds.
/// The current time in milliseconds since the epoch (the time prefix of new secrets).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Builds the shared state: validates settings, loads (or creates) the signing keys and the
/// per-client rate limits, and connects to Redis when one is configured (an unreachable Redis
/// does not stop the start: see [`shared`]).
pub async fn build(settings: Settings, store: Arc<dyn Store>) -> Result<App, ServeError> {
    settings.validate().map_err(ServeError::Settings)?;
    let keys = keys::KeyRing::load_or_create(store.as_ref(), &settings.secret).await?;
    let metrics = metrics::Metrics::default();
    let shared = match &settings.redis_url {
        Some(url) => Some(
            shared::Shared::start(
                url,
                &settings.redis_prefix,
                settings.redis_timeout,
                metrics.redis_failures.clone(),
            )
            .await
            .map_err(ServeError::Settings)?,
        ),
        None => None,
    };
    let limiter = limiter::RateLimiter::new(
        limiter::Limiter::new(
            settings.client_rate_limit,
            settings.ip_rate_limit,
            settings.max_in_flight,
        ),
        shared.clone(),
    );
    let send_limits = match &shared {
        Some(s) => otp::SendLimiter::Shared(shared::sends::SharedSends::new(
            s.clone(),
            settings.otp_send_limits,
            &settings.secret.0,
        )),
        None => otp::SendLimiter::Local(Box::new(otp::SendLimits::new(settings.otp_send_limits))),
    };
    let otp = otp::OtpService::new(&settings, send_limits).map_err(ServeError::Settings)?;
    let signer = signer::SignerPool::per_core()?;
    let store_calls = db::StoreCalls::new(
        store.clone(),
        settings.store_timeout,
        metrics.store_failures.clone(),
    );
    let app = Arc::new(AppState {
        discovery: oauth::discovery::document(&settings.issuer),
        settings,
        store_calls,
        store,
        keys,
        signer,
        limiter,
        metrics,
        otp,
        admin_lockout: lockout::AdminLockout::new(shared),
        callbacks_wake: tokio::sync::Notify::new(),
    });
    reload(&app).await;
    Ok(app)
}

/// Serves until `shutdown` completes, then drains in-flight requests. The accept loop, its
/// caps and timeouts are [`listener`]'s.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = build(settings, store).await?;
    let background = tokio::spawn(background(app.clone()));
    // Every node delivers callbacks; the store's lease gives each attempt to one of them.
    let (stop_deliveries, stopped) = tokio::sync::watch::channel(false);
    let mut deliveries = tokio::spawn(callbacks::worker::run(app.clone(), stopped));
    let router = routes::router(app.clone());
    let result = listener::run(listener, app, router, shutdown).await;
    background.abort();
    // The attempts in flight finish and are recorded (within the worker's drain time), so a
    // restart leaves no delivery waiting for a lease to run out.
    let _ = stop_deliveries.send(true);
    let drain = callbacks::worker::DRAIN + std::time::Duration::from_secs(1);
    if tokio::time::timeout(drain, &mut deliveries).await.is_err() {
        deliveries.abort();
    }
    result.map_err(ServeError::from)
}

/// Re-reads what other processes (the CLI, other nodes) may have changed: signing keys and
/// the per-client caches. Every `reload_interval`; the clients also whenever
/// [`poll_clients`] sees them change.
async fn reload(app: &AppState) {
    if let Err(e) = app.keys.reload(app.store.as_ref()).await {
        tracing::warn!(error = %e, "could not reload signing keys");
    }
    if let Err(e) = reload_clients(app).await {
        tracing::warn!(error = %e, "could not reload client rate limits");
    }
}

/// Re-reads every per-client value this process caches: today only the rate-limit overrides
/// ([`limiter`]); everything else about a client is read from the store per request.
async fn reload_clients(app: &AppState) -> Result<(), tcauth_store::StoreError> {
    let clients = app.db(app.store.list_clients()).await?;
    cache_clients(app, clients);
    Ok(())
}

fn cache_clients(app: &AppState, clients: Vec<tcauth_core::model::Client>) {
    app.limiter.replace_overrides(
        clients
            .into_iter()
            .filter_map(|c| c.rate_limit.map(|rl| (c.client_id, rl)))
            .collect::<HashMap<_, _>>(),
    );
}

/// Asks the store for its clients' revision (`Store::clients_revision`: one cheap query) and
/// reloads the per-client caches when it moved since `seen`. Run every
/// `clients_poll_interval`, so a client changed anywhere applies on this node within 1 s.
/// Its store calls are not the requests' (not counted as store failures, logged at debug
/// only): an outage is reported by the requests and by [`reload`].
async fn poll_clients(app: &AppState, seen: &mut Option<(i64, i64)>) {
    let timeout = app.settings.store_timeout;
    let rev = match tokio::time::timeout(timeout, app.store.clients_revision()).await {
        Ok(Ok(rev)) => rev,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "could not read the clients' revision");
            return;
        }
        Err(_) => {
            tracing::debug!("reading the clients' revision timed out");
            return;
        }
    };
    if *seen == Some(rev) {
        return;
    }
    // Read after the revision: a change in between moves it again, and the next poll reloads.
    match tokio::time::timeout(timeout, app.store.list_clients()).await {
        Ok(Ok(clients)) => {
            cache_clients(app, clients);
            tracing::debug!(
                count = rev.0,
                updated_at_ms = rev.1,
                "clients changed: caches reloaded"
            );
            *seen = Some(rev);
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "could not reload the clients"),
        Err(_) => tracing::debug!("reloading the clients timed out"),
    }
}

/// The sweeper, the reloader and the clients' poller.
async fn background(app: App) {
    let mut sweep = tokio::time::interval(app.settings.sweep_interval);
    let mut reload_tick = tokio::time::interval(app.settings.reload_interval);
    let mut poll_tick = tokio::time::interval(app.settings.clients_poll_interval);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reload_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = None;
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                sweep_once(&app).await;
                app.limiter.prune();
                app.otp.limits.prune();
                app.admin_lockout.prune();
            }
            _ = reload_tick.tick() => reload(&app).await,
            _ = poll_tick.tick() => poll_clients(&app, &mut seen).await,
        }
    }
}

/// Deletes expired rows in batches of `sweep_batch` per kind until none are left, so the store
/// is swept at least as fast as it fills (a fixed number of batches per round would fall
/// behind a sustained peak). Each batch is one write among the others in the writer's group
/// commits, so a backlog delays the token endpoint's commits by at most one batch at a time. A
/// round stops after half the sweep interval; the next round goes on where it stopped.
pub async fn sweep_once(app: &AppState) -> u64 {
    let batch = app.settings.sweep_batch;
    let budget = app.settings.sweep_interval / 2;
    let start = std::time::Instant::now();
    let mut total = 0;
    loop {
        match app.store.sweep_expired(now(), batch).await {
            Ok(n) => {
                total += n;
                if n < batch as u64 || start.elapsed() >= budget {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweeper: store error");
                break;
            }
        }
        // Let the requests waiting for a thread go first.
        tokio::task::yield_now().await;
    }
    if total > 0 {
        tracing::info!(
            deleted = total,
            millis = start.elapsed().as_millis() as u64,
            "sweeper deleted expired codes and tokens"
        );
    }
    total
}
