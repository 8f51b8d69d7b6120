//! The signing threads: a fixed pool, one thread per core, that signs id_tokens.
//!
//! An RSA-2048 signature is about 0.3 ms of CPU. On tokio's blocking pool every concurrent
//! exchange got a thread of its own (64 connections, 64 threads), and the kernel then spent as
//! much time switching between them as it saved (BENCHMARKS.md, "Where the time goes"). Here
//! as many signatures run at once as there are cores; the others wait their turn in the queue,
//! in order of arrival.
//!
//! The queue is not bounded here: every job belongs to a request the admission bound
//! (`max_in_flight`) already let in, so at most that many wait.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Handle on the signing threads; they exit once it is dropped and the queue is empty.
pub struct SignerPool {
    tx: mpsc::Sender<Job>,
}

/// Why a job did not return.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("the signing threads have stopped")]
    Stopped,
    #[error("the signing job panicked")]
    Panicked,
}

impl SignerPool {
    /// Starts `threads` signing threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<SignerPool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("tcauth-signer-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, not while signing.
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(SignerPool { tx })
    }

    /// One thread per core the process may use.
    pub fn per_core() -> std::io::Result<SignerPool> {
        SignerPool::start(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs `f` on a signing thread and waits for its result without blocking the caller's
    /// thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, SignerError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic fails this job only; the thread goes on with the next. The caller sees
            // the dropped reply.
            if let Ok(v) = catch_unwind(AssertUnwindSafe(f)) {
                let _ = reply.send(v);
            }
        });
        self.tx.send(job).map_err(|_| SignerError::Stopped)?;
        result.await.map_err(|_| SignerError::Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads_and_returns_their_results() {
        let pool = SignerPool::start(2).unwrap();
        let mut names = HashSet::new();
        for i in 0..8u32 {
            let (v, name) = pool
                .run(move || (i * 2, std::thread::current().name().map(str::to_owned)))
                .await
                .unwrap();
            assert_eq!(v, i * 2);
            names.insert(name.unwrap());
        }
        assert!(
            names.iter().all(|n| n.starts_with("tcauth-signer-")),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let pool = SignerPool::start(1).unwrap();
        let r = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(r, Err(SignerError::Panicked)));
        // The one thread survived the panic.
        assert_eq!(pool.run(|| 7u8).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn at_most_one_job_per_thread_runs_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let pool = Arc::new(SignerPool::start(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..16).map(|_| {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, SeqCst);
                })
                .await
                .unwrap()
            })
        });
        for j in jobs.collect::<Vec<_>>() {
            j.await.unwrap();
        }
        let most = most.load(SeqCst);
        assert!(
            (1..=2).contains(&most),
            "{most} jobs ran at once on 2 threads"
        );
    }
}
