//! Test support shared by the integration tests of `tcauth-server` and `tcauth` (a
//! dev-dependency only, never published):
//! - [`ports`]: free ports (never the same one twice in a process) and port-0 listeners;
//! - [`ready`]: waiting until a URL answers 200, with a deadline and a clear failure;
//! - [`proxy`]: a TCP proxy a test can cut and restore, to take a database or Redis away;
//! - [`psql`]: running SQL through the `psql` binary, and a fresh schema per test
//!   ([`psql::Schema`]);
//! - [`gate`]: tests that need an environment variable, and the loud `SKIPPED` line when it
//!   is not set;
//! - [`receiver`]: a callback receiver (an HTTP server recording requests, answering as
//!   scripted).

pub mod gate;
pub mod ports;
pub mod proxy;
pub mod psql;
pub mod ready;
pub mod receiver;
