//! Black-box tests of the tcauth HTTP server against CONTRACT.md (§1–4, 7, 8, §9's `/v1/default`, §10) and the
//! security checklist. Each test runs its own server on a port-0 listener over its own
//! temporary SQLite store, so tests run in parallel and in any order.

mod admin;
mod admin_clients;
mod admin_lockout;
mod admin_users;
mod connections;
mod discovery;
mod errors;
mod ops;
mod profiles;
mod reference;
mod refresh;
mod revoke;
mod robustness;
mod test_mode;
mod third_party;
mod token;
mod userinfo;
mod web_profile;
