//! Black-box tests of the tcauth HTTP server against CONTRACT.md (§1–4, 7, 8) and the
//! security checklist. One test binary: the modules live under `tests/api/` (a directory
//! Cargo does not turn into targets of its own); each test runs its own server on a port-0
//! listener over its own temporary SQLite store, so tests run in parallel and in any order.

mod common;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/admin_lockout.rs"]
mod admin_lockout;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/discovery.rs"]
mod discovery;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/ops.rs"]
mod ops;
#[path = "api/refresh.rs"]
mod refresh;
#[path = "api/revoke.rs"]
mod revoke;
#[path = "api/robustness.rs"]
mod robustness;
#[path = "api/third_party.rs"]
mod third_party;
#[path = "api/token.rs"]
mod token;
#[path = "api/userinfo.rs"]
mod userinfo;
