//! POST /v1/token: CONTRACT.md §1 — success shape, every row of the error table and their
//! order, the rules behind the table; checklist T1–T12, S1, S3, P2–P4. By topic:
//! - `success`: the success answer, Truecaller's sample request, POST only;
//! - `request`: rows 1–2 (body size, content type, form encoding);
//! - `admission`: rows 3, 4 and 13 (rate limits, shedding, store failures, internal errors);
//! - `client_errors`: rows 5–10 (grant type, parameters, client, user);
//! - `codes`: row 11 and the rules of codes (lifetime, single use, `redirect_uri`);
//! - `pkce`: row 12 and the verifier;
//! - `durability`: concurrent redemptions, restarts, secrets at rest.
//!
//! The helpers below are shared by these files.

mod admission;
mod client_errors;
mod codes;
mod durability;
mod pkce;
mod request;
mod success;

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;

const FORM: &str = "application/x-www-form-urlencoded";

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// POSTs a raw body with the given content type (None: no Content-Type header).
async fn post_raw(
    s: &TestServer,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut rb = s.http.post(s.url(path)).body(body);
    if let Some(ct) = ct {
        rb = rb.header("content-type", ct);
    }
    rb.send().await.unwrap()
}
