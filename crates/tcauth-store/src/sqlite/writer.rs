//! The writer thread: one read-write connection, group commit.
//!
//! Commands arrive over a channel. The thread blocks for one, drains whatever else is already
//! queued (up to [`MAX_BATCH`]), and runs them all in one `BEGIN IMMEDIATE … COMMIT`
//! transaction, each inside its own `SAVEPOINT` so that a failing command rolls back only its
//! own writes. Replies are sent only after `COMMIT` returned, i.e. once the batch is durable
//! (`synchronous=FULL`); if the transaction cannot be committed every command of the batch
//! gets an error.
//!
//! A caller that knows it will send a write shortly (an `openid` grant, which signs an
//! `id_token` first) announces it ([`Writer::announce`]). While a write is announced, the
//! thread holds a small batch open for up to [`GATHER_WAIT`] so that the write shares the
//! batch's commit instead of paying an `fsync` of its own. Only replies wait for that; no
//! write is acknowledged before its commit.

use super::error::{duplicate, map_err};
use crate::StoreError;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most commands committed together.
pub(crate) const MAX_BATCH: usize = 256;
/// Commands queued for the writer before senders wait.
const QUEUE: usize = 4096;
/// Longest the writer holds a batch open for announced writes ([`Writer::announce`]): about
/// one RSA-2048 signature, the work an `openid` exchange does between announcing its
/// redemption and sending it. A commit's `fsync` cost ~140 µs of CPU on the benchmark
/// machine, besides its wait (BENCHMARKS.md).
pub(crate) const GATHER_WAIT: Duration = Duration::from_micros(300);
/// A batch this large commits without waiting for announced writes.
const GATHER_UNTIL: usize = 32;

/// What the writer and its callers share to gather announced writes into one commit.
struct Gather {
    /// Writes announced and not yet sent.
    announced: AtomicUsize,
    /// The writer is parked waiting for them: a sender unparks it.
    parked: AtomicBool,
    /// How long a batch may be held open for them.
    wait: Duration,
    /// Batches run (committed or failed), for tests.
    batches: AtomicUsize,
}

/// A write on its way ([`Writer::announce`]); dropping it withdraws the announcement.
pub(crate) struct Announced {
    gather: Arc<Gather>,
}

impl Drop for Announced {
    fn drop(&mut self) {
        self.gather.announced.fetch_sub(1, Ordering::Release);
    }
}

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
    gather: Arc<Gather>,
}

impl Writer {
    pub(crate) fn spawn(conn: Connection) -> Result<Writer, StoreError> {
        Writer::spawn_with(conn, GATHER_WAIT)
    }

    /// [`Writer::spawn`] with another bound on holding a batch open for announced writes.
    pub(crate) fn spawn_with(
        conn: Connection,
        gather_wait: Duration,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let gather = Arc::new(Gather {
            announced: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            wait: gather_wait,
            batches: AtomicUsize::new(0),
        });
        let g = Arc::clone(&gather);
        let thread = std::thread::Builder::new()
            .name("tcauth-sqlite-writer".into())
            .spawn(move || writer_main(conn, rx, &g))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            gather,
        })
    }

    /// Announces a write the caller is about to send (after work of its own, such as signing):
    /// while any is announced, the writer holds its batch open a little longer for it, so that
    /// it shares the batch's commit (see [`writer_main`]).
    pub(crate) fn announce(&self) -> Announced {
        self.gather.announced.fetch_add(1, Ordering::AcqRel);
        Announced {
            gather: Arc::clone(&self.gather),
        }
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
        // Pairs with the writer's store-then-check before it parks.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.gather.parked.load(Ordering::SeqCst) {
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
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

/// The writer's loop: block for a command, take whatever else is queued, and while writes are
/// announced (and the batch is small and young) wait for those too; then commit them together.
/// Every commit costs an `fsync`; a write that would otherwise arrive just after one would pay
/// a commit of its own.
fn writer_main(conn: Connection, mut rx: mpsc::Receiver<Box<dyn Job>>, gather: &Gather) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        let opened = Instant::now();
        batch.push(first);
        loop {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let waited = opened.elapsed();
            let wait = gather.wait;
            if batch.len() >= GATHER_UNTIL
                || waited >= wait
                || gather.announced.load(Ordering::Acquire) == 0
            {
                break;
            }
            gather.parked.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            // A job sent between the drain above and the store would not unpark us.
            if rx.is_empty() {
                std::thread::park_timeout(wait - waited);
            }
            gather.parked.store(false, Ordering::SeqCst);
        }
        // Counted before the replies go out, so that a caller who got one sees the count.
        gather.batches.fetch_add(1, Ordering::Relaxed);
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

    fn writer(wait: Duration) -> (tempfile::TempDir, Writer, Connection) {
        let (dir, conn) = db();
        let probe = open(&dir.path().join("t.db"), Role::Reader).unwrap();
        (dir, Writer::spawn_with(conn, wait).unwrap(), probe)
    }

    async fn put(w: &Writer, k: &'static str) -> Result<(), StoreError> {
        w.call(move |c: &Connection| {
            c.execute("INSERT INTO t (k) VALUES (?1)", [k])
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }

    #[tokio::test]
    async fn an_announced_write_shares_the_commit_of_the_batch_it_was_announced_to() {
        let (_dir, w, probe) = writer(Duration::from_secs(30));
        let w = Arc::new(w);
        let soon = w.announce();
        let first = tokio::spawn({
            let w = Arc::clone(&w);
            async move { put(&w, "a").await }
        });
        // The writer holds "a" uncommitted while a write is announced (for up to 30 s).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!first.is_finished());
        assert!(keys(&probe).is_empty());
        // The announced write arrives (the announcement goes just before it, as in the
        // grants): one commit for both.
        drop(soon);
        put(&w, "b").await.unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(keys(&probe), ["a", "b"]);
        assert_eq!(w.gather.batches.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_batch_is_held_for_an_announced_write_no_longer_than_the_bound() {
        let bound = Duration::from_millis(100);
        let (_dir, w, probe) = writer(bound);
        // Announced, never sent (a signature that failed, a client that went away).
        let _soon = w.announce();
        let t0 = Instant::now();
        put(&w, "a").await.unwrap();
        let took = t0.elapsed();
        assert!(
            took >= bound,
            "committed after {took:?}, before the {bound:?} bound"
        );
        assert!(took < Duration::from_secs(10), "held for {took:?}");
        assert_eq!(keys(&probe), ["a"]);
    }

    #[tokio::test]
    async fn without_an_announcement_a_write_commits_at_once() {
        let (_dir, w, probe) = writer(Duration::from_secs(30));
        let withdrawn = w.announce();
        drop(withdrawn);
        let t0 = Instant::now();
        put(&w, "a").await.unwrap();
        put(&w, "b").await.unwrap();
        // Nowhere near the 30 s bound: nothing was waited for.
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert_eq!(keys(&probe), ["a", "b"]);
        assert_eq!(w.gather.batches.load(Ordering::Relaxed), 2);
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
