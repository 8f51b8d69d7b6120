//! The token endpoint's body: `form::parse` on any bytes, then what `/v1/token` reads from it.
//! Accepted forms have unique, non-empty names, agree with `get`, and survive a re-encode.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tcauth_core::model::GrantType;
use tcauth_core::{pkce, ScopeSet};
use tcauth_server::form;

/// Percent-encodes everything but ASCII letters and digits (spaces as `%20`, not `+`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // The Content-Type check sees hostile header values too.
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_TYPE, v);
        let _ = form::check_content_type(&h);
    }

    let f = match form::parse(data) {
        Ok(f) => f,
        Err(m) => {
            assert!(!m.is_empty());
            assert!(
                !m.chars().any(char::is_control),
                "error echoes control characters"
            );
            return;
        }
    };
    let pairs = f.pairs();
    for (i, (k, v)) in pairs.iter().enumerate() {
        assert!(!k.is_empty(), "empty name accepted");
        assert!(
            pairs[..i].iter().all(|(e, _)| e != k),
            "duplicate {k:?} accepted"
        );
        assert_eq!(f.get(k), Some(v.as_str()));
    }
    // Round trip: what was accepted, encoded again, parses to the same parameters.
    let again: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let again = form::parse(again.join("&").as_bytes()).expect("a re-encoded form parses");
    assert_eq!(again.pairs(), pairs);

    // What the token endpoint does with the parameters before the store is asked.
    if let Some(g) = f.non_empty("grant_type") {
        if let Some(gt) = GrantType::parse(g) {
            assert_eq!(gt.as_str(), g);
        }
    }
    if let Some(s) = f.get("scope") {
        if let Ok(set) = ScopeSet::parse(s) {
            assert_eq!(ScopeSet::parse(&set.to_string()).ok(), Some(set));
        }
    }
    if let Some(v) = f.non_empty("code_verifier") {
        let c = pkce::s256_challenge(v);
        assert!(pkce::is_well_formed(&c));
        assert!(pkce::verify(v, &c) == pkce::is_well_formed(v));
    }
    let _ = form::printable(pairs.first().map_or("", |p| p.0.as_str()), 64);
});
