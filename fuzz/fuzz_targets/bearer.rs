//! The bearer header: `userinfo::bearer` on hostile `Authorization` values (one, or several
//! split at newlines). What it returns is the one header's token: non-empty, without spaces,
//! after a case-insensitive `Bearer ` scheme.
#![no_main]

use axum::http::{header::AUTHORIZATION, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tcauth_core::secret::ct_eq;
use tcauth_server::oauth::userinfo::bearer;

fuzz_target!(|data: &[u8]| {
    let mut h = HeaderMap::new();
    let mut values = 0;
    for part in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            h.append(AUTHORIZATION, v);
            values += 1;
        }
    }
    let Some(token) = bearer(&h) else {
        return;
    };
    assert_eq!(values, 1, "a token out of {values} Authorization headers");
    let whole = h.get(AUTHORIZATION).unwrap().to_str().unwrap();
    let (scheme, rest) = whole.split_once(' ').unwrap();
    assert!(scheme.eq_ignore_ascii_case("bearer"));
    assert_eq!(token, rest.trim());
    assert!(!token.is_empty() && !token.contains(' '));
    // The admin guard compares it in constant time.
    assert!(ct_eq(token.as_bytes(), token.as_bytes()));
});
