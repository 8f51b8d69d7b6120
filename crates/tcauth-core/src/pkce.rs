//! PKCE (RFC 7636), S256 only.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest;

/// True when `s` is 43–128 characters of the unreserved set `[A-Za-z0-9-._~]`
/// (the ABNF of both `code_verifier` and `code_challenge`).
pub fn is_well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA256(verifier))`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Checks a verifier against a stored S256 challenge, in constant time.
/// A malformed verifier never matches.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier)
        && crate::secret::ct_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify(VERIFIER, CHALLENGE));
    }

    #[test]
    fn rejects_wrong_and_malformed() {
        assert!(!verify(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!verify("short", CHALLENGE));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(42))));
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"~".repeat(128)));
    }
}
