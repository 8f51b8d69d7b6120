//! A small pool of read-only connections, used from `spawn_blocking`.

use super::conn::{open, Role};
use crate::StoreError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    /// Opens `size` read-only connections up front (so that a bad path fails at start-up).
    pub(crate) fn open(path: PathBuf, size: usize) -> Result<Arc<Readers>, StoreError> {
        let size = size.max(1);
        let idle = (0..size)
            .map(|_| open(&path, Role::Reader))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Readers {
            path,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
        }))
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match conn {
            Some(c) => Ok(c),
            // One was lost (a read panicked); replace it.
            None => open(&self.path, Role::Reader),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }

    /// Runs `f` on a pooled connection in the blocking thread pool. Waits (asynchronously)
    /// while every connection is busy.
    pub(crate) async fn call<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite read pool is closed".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.take()?;
            let r = f(&conn);
            pool.give_back(conn);
            r
        })
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
