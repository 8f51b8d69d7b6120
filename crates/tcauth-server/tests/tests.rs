//! The integration tests of tcauth-server, in one test binary (`cargo test -p tcauth-server
//! --test tests`; `autotests = false` in Cargo.toml). Each directory is a suite of its own:
//! - `api`: the HTTP API against CONTRACT.md and the security checklist;
//! - `callbacks`: the Mobile Websites callback worker against a real HTTP receiver;
//! - `browser`: sign-in through `/v1/auth` and the browser pages, over plain HTTP and (with
//!   `TCAUTH_BROWSER_TESTS`) in a real headless Chromium;
//! - `cluster`: nodes sharing one Redis (with `TCAUTH_TEST_REDIS_URL`);
//! - `verification`: the phone-verification API and the one-time codes behind it;
//! - `common`: the harness they share (a real server on a port-0 listener over its own
//!   temporary store).
//!
//! Test support the crates share (ports, readiness, the fault proxy, environment gates) is
//! in the `tcauth-testkit` crate.

mod api;
mod browser;
mod callbacks;
mod cluster;
mod common;
mod verification;
