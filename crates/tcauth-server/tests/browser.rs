//! Sign-in through `/v1/auth` and the browser pages (CONTRACT.md §5; checklist A1–A11,
//! B1–B8). Plain-HTTP tests always run; the journeys in a real headless Chromium run when
//! `TCAUTH_BROWSER_TESTS` is set (`.ci/run` sets it) and print a loud `SKIPPED` line when not.
//!
//! Every test starts its own server (port 0, temporary store), SMS gateway and, for browser
//! journeys, its own chromedriver and Chromium profile, so tests run in parallel.

#[path = "common/mod.rs"]
mod common;

#[path = "browser/authorize.rs"]
mod authorize;
#[path = "browser/branding.rs"]
mod branding;
#[path = "browser/journeys.rs"]
mod journeys;
#[path = "browser/pages.rs"]
mod pages;
#[path = "browser/replay.rs"]
mod replay;
#[path = "browser/support.rs"]
mod support;
#[path = "browser/webdriver.rs"]
mod webdriver;
