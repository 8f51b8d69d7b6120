//! The sealed interaction cookie (`pages::session`). Hostile `Cookie` headers never open (no
//! forgery without the secret) and never panic; and, to reach the parsing behind the
//! authentication, any plaintext sealed under the secret opens exactly when it is an
//! interaction that has not expired, and re-seals to the same interaction.
#![no_main]

use axum::http::{header::COOKIE, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tcauth_server::pages::session::{read_with, seal_bytes, Interaction, Missing, MAX_COOKIE};

const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret!";
const NAME: &str = "tcauth_interaction";
const NOW: i64 = 1_000;

fn cookie(value: &[u8]) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    h.append(COOKIE, HeaderValue::from_bytes(value).ok()?);
    Some(h)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        // A hostile Cookie header, as the browser sends it.
        if let Some(h) = cookie(rest) {
            assert_eq!(
                read_with(SECRET, NAME, &h, NOW).err(),
                Some(Missing::Absent),
                "a cookie opened without the secret"
            );
        }
        return;
    }
    // A plaintext sealed under the secret.
    let sealed = seal_bytes(SECRET, NAME, rest.to_vec());
    let h = cookie(format!("a=b; {NAME}={sealed}; c").as_bytes()).expect("base64url is a header");
    let want = serde_json::from_slice::<Interaction>(rest).ok();
    match read_with(SECRET, NAME, &h, NOW) {
        Ok(ix) => {
            assert!(ix.expires_at > NOW);
            let json = serde_json::to_vec(&ix).expect("an interaction serialises");
            let again = seal_bytes(SECRET, NAME, json.clone());
            let h = cookie(format!("{NAME}={again}").as_bytes()).unwrap();
            // Re-serialised, it may be longer (absent optional fields come back as nulls)
            // and so past the longest cookie that is read.
            if again.len() <= MAX_COOKIE {
                let back = read_with(SECRET, NAME, &h, NOW).expect("a re-sealed interaction opens");
                assert_eq!(serde_json::to_vec(&back).unwrap(), json);
            }
            // Under another secret or another cookie name it does not open.
            assert!(read_with(b"another-secret-another-secret-!!", NAME, &h, NOW).is_err());
        }
        Err(Missing::Expired) => {
            assert!(want.is_some_and(|ix| ix.expires_at <= NOW));
        }
        Err(Missing::Absent) => {
            // Not an interaction, or its cookie is too long.
            assert!(
                want.is_none() || sealed.len() > MAX_COOKIE,
                "an interaction did not open"
            );
        }
    }
});
