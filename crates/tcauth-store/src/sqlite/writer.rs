//! The writer thread: one read-write connection, group commit.
//!
//! Commands arrive over a channel. The thread blocks for one, drains whatever else is already
//! queued (up to [`MAX_BATCH`]), and runs them all in one `BEGIN IMMEDIATE … COMMIT`
//! transaction, each inside its own `SAVEPOINT` so that a failing command rolls back only its
//! own writes. Replies are sent only after `COMMIT` returned, i.e. once the batch is durable
//! (`synchronous=FULL`); if the transaction cannot be committed every command of the batch
//! gets an error.

use super::error::{duplicate, map_err};
use crate::StoreError;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most commands committed together.
pub(crate) const MAX_BATCH: usize = 256;
/// Commands queued for the writer before senders wait.
const QUEUE: usize = 4096;

/// One queued command.
pub(crate) trait Job: Send {
    /// Runs the command on the writer's connection, inside its savepoint. Returns whether it
    /// succeeded (its writes are to be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Replies to the caller. `batch_error` is set when the batch was not committed.
    fn finish(self: Box<Self>, batch_error: Option<&StoreError>);
}

struct Task<T, F> {
    f: Option<F>,
    out: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Task<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            self.out = Some(Err(StoreError::Internal("store command ran twice".into())));
            return false;
        };
        let r = catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(StoreError::Internal(format!(
                "store command panicked: {msg}"
            )))
        });
        let ok = r.is_ok();
        self.out = Some(r);
        ok
    }

    fn finish(self: Box<Self>, batch_error: Option<&StoreError>) {
        let r = match (self.out, batch_error) {
            // A command that failed on its own reports its own error either way.
            (Some(Err(own)), _) => Err(own),
            (_, Some(e)) => Err(duplicate(e)),
            (Some(ok), None) => ok,
            (None, None) => Err(StoreError::Internal("store command did not run".into())),
        };
        // The caller may have gone away (its future dropped); nothing to do then.
        let _ = self.reply.send(r);
    }
}

pub(crate) fn job<T, F>(f: F) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let task = Task {
        f: Some(f),
        out: None,
        reply,
    };
    (Box::new(task), rx)
}

fn gone() -> StoreError {
    StoreError::Unavailable("the SQLite writer thread has stopped".into())
}

/// Handle on the writer thread. Dropping it lets the thread finish the queued commands, close
/// the connection and exit, and waits for that.
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn spawn(conn: Connection) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("tcauth-sqlite-writer".into())
            .spawn(move || writer_main(conn, rx))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Runs `f` in the writer thread; resolves once its batch is committed.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let (job, rx) = job(f);
        tx.send(job).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    pub(crate) fn is_running(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
    }
}

fn writer_main(conn: Connection, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        run_batch(&conn, &mut batch);
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the SQLite writer connection failed");
    }
}

/// Runs `batch` in one transaction and replies to every command; leaves `batch` empty.
pub(crate) fn run_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    let n = batch.len();
    let outcome = run_in_transaction(conn, batch);
    if let Err(e) = &outcome {
        tracing::warn!(error = %e, commands = n, "SQLite write batch failed");
    }
    for j in batch.drain(..) {
        j.finish(outcome.as_ref().err());
    }
}

fn run_in_transaction(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    exec_cached(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if let Err(e) = run_one(conn, job.as_mut()) {
            rollback(conn);
            return Err(e);
        }
    }
    if let Err(e) = exec_cached(conn, "COMMIT") {
        rollback(conn);
        return Err(e);
    }
    Ok(())
}

fn run_one(conn: &Connection, job: &mut dyn Job) -> Result<(), StoreError> {
    exec_cached(conn, "SAVEPOINT cmd")?;
    let ok = job.run(conn);
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (e.g. disk full, I/O error): the batch's
        // earlier commands are lost too.
        return Err(StoreError::Unavailable(
            "the write transaction was aborted by SQLite".into(),
        ));
    }
    if ok {
        exec_cached(conn, "RELEASE cmd")
    } else {
        conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd")
            .map_err(map_err)
    }
}

/// Runs one transaction-control statement, prepared once per connection.
fn exec_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(|_| ())
        .map_err(map_err)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rolling back a SQLite write batch failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::{create_file, open, Role};
    use super::super::migrations;
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        create_file(&path).unwrap();
        let mut conn = open(&path, Role::Writer).unwrap();
        migrations::apply(&mut conn).unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .unwrap();
        (dir, conn)
    }

    fn insert(k: &'static str) -> (Box<dyn Job>, oneshot::Receiver<Result<(), StoreError>>) {
        job(move |c: &Connection| {
            c.execute("INSERT INTO t (k) VALUES (?1)", [k])
                .map(|_| ())
                .map_err(map_err)
        })
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut st = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_failing_command_rolls_back_only_itself() {
        let (_dir, conn) = db();
        let (a, mut ra) = insert("a");
        // Writes, then fails: its write must not survive.
        let (b, mut rb) = job(|c: &Connection| -> Result<(), StoreError> {
            c.execute("INSERT INTO t (k) VALUES ('b')", [])
                .map_err(map_err)?;
            c.execute("INSERT INTO t (k) VALUES ('a')", [])
                .map_err(map_err)?;
            Ok(())
        });
        let (c, mut rc) = insert("c");
        let mut batch = vec![a, b, c];
        run_batch(&conn, &mut batch);
        assert!(batch.is_empty());
        assert!(ra.try_recv().unwrap().is_ok());
        assert!(matches!(
            rb.try_recv().unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert!(rc.try_recv().unwrap().is_ok());
        assert_eq!(keys(&conn), ["a", "c"]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn an_aborted_transaction_fails_the_whole_batch() {
        let (_dir, conn) = db();
        let (a, mut ra) = insert("a");
        // Simulates SQLite abandoning the transaction mid-batch.
        let (b, mut rb) = job(|c: &Connection| c.execute_batch("ROLLBACK").map_err(map_err));
        let (c, mut rc) = insert("c");
        let mut batch = vec![a, b, c];
        run_batch(&conn, &mut batch);
        assert!(matches!(
            ra.try_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            rb.try_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            rc.try_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(keys(&conn).is_empty());
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_panicking_command_is_an_internal_error() {
        let (_dir, conn) = db();
        let (a, mut ra) = insert("a");
        let (b, mut rb) = job(|c: &Connection| -> Result<(), StoreError> {
            c.execute("INSERT INTO t (k) VALUES ('b')", [])
                .map_err(map_err)?;
            panic!("boom")
        });
        let mut batch = vec![a, b];
        run_batch(&conn, &mut batch);
        assert!(ra.try_recv().unwrap().is_ok());
        assert!(
            matches!(rb.try_recv().unwrap(), Err(StoreError::Internal(m)) if m.contains("boom"))
        );
        assert_eq!(keys(&conn), ["a"]);
    }

    #[test]
    fn a_failed_begin_fails_every_command() {
        let (dir, conn) = db();
        let other = open(&dir.path().join("t.db"), Role::Writer).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (a, mut ra) = insert("a");
        let mut batch = vec![a];
        run_batch(&conn, &mut batch);
        assert!(matches!(
            ra.try_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        other.execute_batch("ROLLBACK").unwrap();
    }
}
