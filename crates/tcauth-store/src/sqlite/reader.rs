//! The read-only connections.
//!
//! Two ways to read:
//! - [`Readers::lookup`] runs on the caller's thread. It is for the hot point lookups by primary
//!   key (a code, a token, a client, a user): on a WAL database they take a few microseconds
//!   and never wait for the writer, while handing them to another thread would cost more than
//!   the read itself (two thread wake-ups per read; see BENCHMARKS.md). A reader only waits on
//!   a lock while SQLite recovers the WAL index, and then for at most [`LOOKUP_BUSY_TIMEOUT`].
//! - [`Readers::scan`] runs in tokio's blocking pool, for the reads whose size the caller does
//!   not bound (listing clients or keys).
//!
//! Connections are pooled: an idle one is taken, or a new one opened when all are busy; at most
//! [`MAX_IDLE`] are kept.

use super::conn::{open, Role};
use crate::StoreError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most idle connections kept for reuse.
const MAX_IDLE: usize = 16;

/// How long an inline lookup may wait on a lock (only WAL recovery takes one from readers).
pub(crate) const LOOKUP_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Opens `size` read-only connections up front (so that a bad path fails at start-up).
    pub(crate) fn open(path: PathBuf, size: usize) -> Result<Arc<Readers>, StoreError> {
        let idle = (0..size.clamp(1, MAX_IDLE))
            .map(|_| open_reader(&path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Readers {
            path,
            idle: Mutex::new(idle),
        }))
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match conn {
            Some(c) => Ok(c),
            // All busy (or one was lost to a panicking read): open another.
            None => open_reader(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        // A connection left inside a transaction would keep reading an old snapshot.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs a point lookup on the caller's thread.
    pub(crate) fn lookup<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take()?;
        let r = f(&conn);
        self.give_back(conn);
        r
    }

    /// Runs a read of unbounded size in the blocking thread pool.
    pub(crate) async fn scan<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.lookup(f))
            .await
            .map_err(|e| {
                if e.is_cancelled() {
                    // The runtime is shutting down.
                    StoreError::Unavailable("SQLite read task cancelled".into())
                } else {
                    StoreError::Internal(format!("SQLite read task failed: {e}"))
                }
            })?
    }
}

fn open_reader(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = open(path, Role::Reader)?;
    conn.busy_timeout(LOOKUP_BUSY_TIMEOUT)
        .map_err(super::error::map_err)?;
    Ok(conn)
}
