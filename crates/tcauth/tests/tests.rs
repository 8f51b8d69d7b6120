//! The integration tests of the `tcauth` binary, run for real, in one test binary
//! (`cargo test -p tcauth --test tests`; `autotests = false` in Cargo.toml):
//! - `cli`: every command, each test in a temporary directory of its own (and, with
//!   `TCAUTH_TEST_DATABASE_URL`, on PostgreSQL);
//! - `crash`: SIGKILL in the middle of a load, then a restart on the same data;
//! - `multinode`: three `tcauth serve` processes on one PostgreSQL and one Redis (with
//!   `TCAUTH_TEST_DATABASE_URL` and `TCAUTH_TEST_REDIS_URL`).
//!
//! Test support the crates share (ports, readiness, the fault proxy, psql, environment gates)
//! is in the `tcauth-testkit` crate.

mod cli;
mod crash;
mod multinode;
