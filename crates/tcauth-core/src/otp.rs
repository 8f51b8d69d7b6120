//! One-time codes (OTPs) sent by SMS: generation, and the keyed MAC the store keeps instead of
//! the code.
//!
//! A code has six decimal digits (about 20 bits), so a plain hash of it is reversed in
//! milliseconds; the store keeps only `HMAC-SHA256(K, challenge_id ‖ phone ‖ code)` under a key
//! `K` derived from the server secret, which never enters the database. The MAC also binds the
//! code to its challenge and to the number it was sent to.

use crate::phone::{self, Phone, PhoneError};
use crate::secret::{ct_eq, hex, hmac_sha256, random_bytes, TokenHash};
use phonenumber::Type;

/// Digits in a code.
pub const CODE_LEN: usize = 6;
/// Default lifetime of a code, in seconds (CONTRACT.md §5: 5 minutes).
pub const DEFAULT_TTL_SECS: u64 = 300;
/// Longest lifetime a code may be configured with (ASVS 6.5.5: at most 10 minutes).
pub const MAX_TTL_SECS: u64 = 600;
/// Wrong tries before a code is burnt.
pub const MAX_ATTEMPTS: u8 = 5;

/// A new code: [`CODE_LEN`] decimal digits, uniform, from the OS CSPRNG.
pub fn generate() -> String {
    // 10^6 codes; rejection sampling over u32 keeps the distribution uniform.
    const SPACE: u32 = 1_000_000;
    const ZONE: u32 = u32::MAX - (u32::MAX % SPACE);
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        if n < ZONE {
            return format!("{:06}", n % SPACE);
        }
    }
}

/// Whether `s` looks like a code: exactly [`CODE_LEN`] ASCII digits.
pub fn is_well_formed(s: &str) -> bool {
    s.len() == CODE_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// The MAC key for codes, derived from the server secret.
pub fn mac_key(server_secret: &[u8]) -> [u8; 32] {
    hmac_sha256(server_secret, b"tcauth/v1/otp")
}

/// `HMAC-SHA256(key, challenge_id ‖ phone_e164 ‖ code)`, each part length-prefixed so no two
/// different triples share an input.
pub fn mac(key: &[u8], challenge_id: &str, phone_e164: &str, code: &str) -> [u8; 32] {
    let mut msg = Vec::with_capacity(12 + challenge_id.len() + phone_e164.len() + code.len());
    for part in [challenge_id, phone_e164, code] {
        msg.extend_from_slice(&(part.len() as u32).to_be_bytes());
        msg.extend_from_slice(part.as_bytes());
    }
    hmac_sha256(key, &msg)
}

/// Compares two MACs in constant time.
pub fn mac_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    ct_eq(a, b)
}

/// The binding of a challenge started from a browser session: the hex SHA-256 of the session
/// id, so the session id itself is not stored next to the challenge.
pub fn session_binding(session_id: &str) -> String {
    hex(&TokenHash::of(session_id).0)
}

/// Parses a number a code is to be sent to ([`phone::parse`]) and checks that it can take an
/// SMS: a mobile number (or one the numbering plan cannot tell from a fixed line) or a personal
/// number. Fixed lines, premium-rate, shared-cost, toll-free, VoIP, pager and other numbers are
/// [`PhoneError::Invalid`]: they are where SMS pumping sends its traffic.
pub fn parse_sms_number(input: &str, country: Option<&str>) -> Result<Phone, PhoneError> {
    let p = phone::parse(input, country)?;
    let n = phonenumber::parse(None, &p.e164).map_err(|_| PhoneError::Invalid)?;
    match n.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber => Ok(p),
        _ => Err(PhoneError::Invalid),
    }
}

/// Longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The name rule of the verification step (CONTRACT.md §6), also used by the sign-up page:
/// after trimming, 1–128 characters, no control characters, and at least one letter (so not
/// only digits or symbols). Returns the trimmed name.
pub fn person_name(s: &str) -> Option<String> {
    let t = s.trim();
    let n = t.chars().count();
    let ok = (1..=MAX_NAME_CHARS).contains(&n)
        && !t.chars().any(char::is_control)
        && t.chars().any(char::is_alphabetic);
    ok.then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let c = generate();
            assert!(is_well_formed(&c), "{c}");
            seen.insert(c);
        }
        assert!(seen.len() > 190, "codes repeat too often");
    }

    #[test]
    fn leading_digits_are_spread() {
        // Each first digit should appear; a bias towards low numbers would show here.
        let mut first = [0u32; 10];
        for _ in 0..2000 {
            first[(generate().as_bytes()[0] - b'0') as usize] += 1;
        }
        assert!(first.iter().all(|&n| n > 100), "{first:?}");
    }

    #[test]
    fn well_formed() {
        assert!(is_well_formed("012345"));
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345"] {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn mac_binds_every_part() {
        let k = mac_key(&[7; 32]);
        let m = mac(&k, "id1", "+919876543210", "123456");
        assert!(mac_eq(&m, &mac(&k, "id1", "+919876543210", "123456")));
        assert!(!mac_eq(&m, &mac(&k, "id2", "+919876543210", "123456")));
        assert!(!mac_eq(&m, &mac(&k, "id1", "+919876543211", "123456")));
        assert!(!mac_eq(&m, &mac(&k, "id1", "+919876543210", "123457")));
        // Moving bytes between parts changes the MAC.
        assert!(!mac_eq(
            &mac(&k, "ab", "c", "123456"),
            &mac(&k, "a", "bc", "123456")
        ));
        // Another server secret, another MAC.
        let k2 = mac_key(&[8; 32]);
        assert!(!mac_eq(&m, &mac(&k2, "id1", "+919876543210", "123456")));
        assert_ne!(k, hmac_sha256(&[7; 32], b"tcauth/v1/signing-key-seal"));
    }

    #[test]
    fn sms_numbers() {
        let p = parse_sms_number("9876543210", Some("IN")).unwrap();
        assert_eq!(
            (p.e164.as_str(), p.country.as_str()),
            ("+919876543210", "IN")
        );
        assert!(parse_sms_number("+44 7911 123456", None).is_ok());
        assert!(parse_sms_number("+1 415 555 0123", None).is_ok());
        // A UK fixed line, a UK premium-rate and a UK freephone number.
        for bad in ["+44 20 7946 0018", "+44 909 879 0000", "+44 800 890 567"] {
            assert_eq!(
                parse_sms_number(bad, None),
                Err(PhoneError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(parse_sms_number("junk", None), Err(PhoneError::Unparseable));
    }

    #[test]
    fn names() {
        for ok in [
            "Asha",
            " Rao ",
            "O'Brien",
            "Jean-Luc",
            "अनिल",
            "X Æ A-12",
            "a",
        ] {
            assert_eq!(person_name(ok).as_deref(), Some(ok.trim()), "{ok:?}");
        }
        let long = "a".repeat(128);
        assert!(person_name(&long).is_some());
        for bad in [
            "",
            "   ",
            "12345",
            "!!!",
            "-- 42 --",
            "Asha\nRao",
            "Asha\u{0}",
        ] {
            assert_eq!(person_name(bad), None, "{bad:?}");
        }
        assert_eq!(person_name(&"a".repeat(129)), None);
    }

    #[test]
    fn session_binding_is_a_hash() {
        let b = session_binding("session-1");
        assert_eq!(b.len(), 64);
        assert!(!b.contains("session"));
        assert_ne!(b, session_binding("session-2"));
    }
}
