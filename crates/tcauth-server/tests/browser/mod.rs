//! Sign-in through `/v1/auth` and the browser pages (CONTRACT.md §5; checklist A1–A11,
//! B1–B8). Plain-HTTP tests always run; the journeys in a real headless Chromium run when
//! `TCAUTH_BROWSER_TESTS` is set (`.ci/run` sets it) and print a loud `SKIPPED` line when not.
//!
//! Every test starts its own server (port 0, temporary store), SMS gateway and, for browser
//! journeys, its own chromedriver and Chromium profile, so tests run in parallel.

mod authorize;
mod branding;
mod journeys;
mod pages;
mod replay;
/// Also used by the cluster tests (sign-in pages on nodes sharing Redis).
pub mod support;
mod test_mode;
/// Also used by the callback tests (the dialog that queues them).
pub mod web;
mod webdriver;
