//! The integration tests of the `tcauth` binary, run for real, in one test binary
//! (`cargo test -p tcauth --test tests`; `autotests = false` in Cargo.toml):
//! - `cli`: every command, each test in a temporary directory of its own (and, with
//!   `TCAUTH_TEST_DATABASE_URL`, on PostgreSQL);
//! - `crash`: SIGKILL in the middle of a load, then a restart on the same data (and with a
//!   callback queued but not delivered yet);
//! - `multinode`: three `tcauth serve` processes on one PostgreSQL and one Redis (with
//!   `TCAUTH_TEST_DATABASE_URL` and `TCAUTH_TEST_REDIS_URL`), and three delivering callbacks
//!   from one outbox;
//! - `outbox`: queueing callbacks in the store for those two.
//!
//! Test support the crates share (ports, readiness, the fault proxy, psql, environment gates)
//! is in the `tcauth-testkit` crate.

mod cli;
mod crash;
mod multinode;
mod outbox;
