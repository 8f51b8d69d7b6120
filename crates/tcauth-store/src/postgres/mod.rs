//! The PostgreSQL backend, for several tcauth nodes sharing one database.
//!
//! - A pool of connections ([`PgOptions`]): waiting for a free connection, connecting and each
//!   statement are bounded, and so is each call as a whole (`statement_timeout` + 1 s on the
//!   client side: a connection that does not answer in time is discarded, never reused). Any
//!   of these failing, or the server being unreachable, shutting down or killing the session,
//!   is `StoreError::Unavailable`; closed connections are replaced when next needed, so the
//!   store recovers by itself when the database returns.
//! - Durability: a write returns `Ok` only after its `COMMIT` returned, with PostgreSQL's
//!   default `synchronous_commit = on` (this backend never lowers it, and `connect` warns if
//!   the server has it `off`: an acknowledged token could then be lost in a crash). A write
//!   that fails with `Unavailable` may or may not have committed (the connection can die
//!   after `COMMIT` was sent): the caller answers 503, and a retried redemption then finds
//!   the code consumed — never a 200 for tokens that are not committed.
//! - Single use across nodes: [`crate::Store::redeem_code`] and
//!   [`crate::Store::rotate_refresh_token`] are one transaction around a conditional
//!   `UPDATE … WHERE consumed_at IS NULL AND expires_at > now` and the token inserts. Under
//!   READ COMMITTED a concurrent `UPDATE` of the same row waits for the first to commit and
//!   then re-checks the condition on the new row, so exactly one wins; the losers wrote
//!   nothing. [`crate::Store::check_otp`] locks the challenge row (`SELECT … FOR UPDATE`) for
//!   its decision; [`crate::Store::use_verification_token`] is one `UPDATE … RETURNING`.
//! - The schema is versioned in the `tcauth_schema` table; migrations live in
//!   `migrations/postgres/NNNN_name.sql`, are embedded in the binary and applied under an
//!   advisory lock (see `migrations.rs`). Tables go into the first schema of the search_path,
//!   so one database can hold several installations (`options=-c search_path=…` in the URL).
//! - No TLS: `sslmode=require` is refused with a message saying so; put a TLS-terminating
//!   proxy (or a private network) between the nodes and the database. TLS is a follow-up.

mod clients;
mod conn;
mod error;
mod grants;
mod keys;
mod migrations;
mod otp;
mod rows;
mod store;
mod users;
mod web;

use crate::{Result, StoreError};
use deadpool_postgres::{Object, Pool};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How [`PgStore`] uses the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool, at most (default 16).
    pub max_connections: usize,
    /// Connecting, including the start-up exchange (default 2 s).
    pub connect_timeout: Duration,
    /// Waiting for a free pooled connection when all are busy (default 2 s).
    pub wait_timeout: Duration,
    /// Each statement, set per session (default 5 s); a call as a whole may take 1 s longer
    /// before the client gives up on its connection. Zero: no limit.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL store. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `host:port/dbname`, for messages.
    target: String,
    /// The client-side bound on one call (None: none).
    call_timeout: Option<Duration>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The schema version this build migrates databases to.
    pub const SCHEMA_VERSION: u32 = migrations::LATEST;

    /// Connects, applies pending migrations, and checks that a pooled connection works. Fails
    /// at once, with `Unavailable` naming the server, if the database cannot be reached (within
    /// `connect_timeout`); `Internal` for a bad URL, failed authentication or a schema newer
    /// than this build. After that, outages are `Unavailable` per call and the pool recovers
    /// by itself.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore> {
        let cfg = conn::parse(url, &opts)?;
        let target = conn::target(&cfg);
        {
            let mut client = conn::connect_one(&cfg, &opts, &target).await?;
            migrations::apply(&mut client).await?;
        }
        let call_timeout = (!opts.statement_timeout.is_zero())
            .then(|| opts.statement_timeout + Duration::from_secs(1));
        let store = PgStore {
            inner: Arc::new(Inner {
                pool: conn::pool(cfg, &opts)?,
                target,
                call_timeout,
            }),
        };
        store
            .with_conn(async |c| store::check_session(c).await)
            .await?;
        tracing::info!(server = %store.inner.target, "connected to PostgreSQL");
        Ok(store)
    }

    /// Applies pending migrations only; returns (version_before, version_after).
    pub async fn migrate(url: &str) -> Result<(u32, u32)> {
        let opts = PgOptions::default();
        let cfg = conn::parse(url, &opts)?;
        let target = conn::target(&cfg);
        let mut client = conn::connect_one(&cfg, &opts, &target).await?;
        migrations::apply(&mut client).await
    }

    /// Runs `f` on a pooled connection, within the call timeout. A connection that timed out
    /// may be stuck mid-statement, and one that failed with `Unavailable` may be dying (its
    /// close not yet seen): either is closed, never handed out again.
    async fn with_conn<T>(&self, f: impl AsyncFnOnce(&mut Object) -> Result<T>) -> Result<T> {
        let mut c = conn::get(&self.inner.pool, &self.inner.target).await?;
        let r = match self.inner.call_timeout {
            None => f(&mut c).await,
            Some(limit) => match tokio::time::timeout(limit, f(&mut c)).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "PostgreSQL at {} did not answer within {limit:?}",
                    self.inner.target
                ))),
            },
        };
        if matches!(r, Err(StoreError::Unavailable(_))) {
            drop(Object::take(c));
        }
        r
    }
}
