//! Secrets: generation, hashing for storage, keyed MACs and constant-time comparison.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand_core::{OsRng, RngCore};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::{digest, hmac};
use std::fmt;

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// Bytes of issue time (milliseconds since the epoch, big-endian) at the front of a bearer
/// secret and of its storage key.
const TIME_PREFIX: usize = 6;
/// Random bytes of a bearer secret.
const SECRET_RANDOM: usize = 30;
/// Length of a bearer secret in characters: base64url of 36 bytes.
pub const TOKEN_LEN: usize = 48;

fn time_prefix(now_ms: u64) -> [u8; TIME_PREFIX] {
    let b = now_ms.to_be_bytes();
    let mut p = [0u8; TIME_PREFIX];
    p.copy_from_slice(&b[8 - TIME_PREFIX..]);
    p
}

/// A new opaque bearer secret (code, access or refresh token, verification token): 240 bits
/// from the CSPRNG behind 48 bits of issue time, base64url without padding
/// ([`TOKEN_LEN`] characters).
///
/// The time prefix is not secret and carries no meaning for the protocol: it only makes the
/// storage key ([`TokenHash::of`]) grow with time, so that the store appends new rows at
/// the end of its indexes instead of scattering them over random pages (see BENCHMARKS.md,
/// "write amplification").
pub fn new_token(now_ms: u64) -> String {
    let mut raw = [0u8; TIME_PREFIX + SECRET_RANDOM];
    raw[..TIME_PREFIX].copy_from_slice(&time_prefix(now_ms));
    OsRng.fill_bytes(&mut raw[TIME_PREFIX..]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Whether `s` has the length of a bearer secret: [`TOKEN_LEN`], or the 43 characters of the
/// secrets issued before the time prefix (still valid until they expire).
pub fn has_token_length(s: &str) -> bool {
    s.len() == TOKEN_LEN || s.len() == 43
}

/// A new random identifier with 128 bits of entropy, as 32 lower-case hex digits.
pub fn new_id() -> String {
    hex(&random_bytes::<16>())
}

/// A new identifier that sorts by creation time: 48 bits of time (ms) then 80 random bits,
/// as 32 lower-case hex digits. For keys the store indexes, such as token families.
pub fn new_ordered_id(now_ms: u64) -> String {
    let mut raw = [0u8; 16];
    raw[..TIME_PREFIX].copy_from_slice(&time_prefix(now_ms));
    OsRng.fill_bytes(&mut raw[TIME_PREFIX..]);
    hex(&raw)
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// What the store keeps instead of a bearer secret: its storage key.
///
/// For a secret of [`new_token`]'s shape, the key is the secret's 6-byte time prefix followed
/// by the first 26 bytes of its SHA-256, so keys sort by issue time; for any other string
/// (secrets issued before that shape, or junk a client sends) it is the plain SHA-256.
/// Either way the secret behind the key carries at least 208 bits the key does not reveal, so
/// it cannot be recovered from the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        let d = digest::digest(&digest::SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        match time_prefix_of(secret) {
            Some(prefix) => {
                out[..TIME_PREFIX].copy_from_slice(&prefix);
                out[TIME_PREFIX..].copy_from_slice(&d.as_ref()[..32 - TIME_PREFIX]);
            }
            None => out.copy_from_slice(d.as_ref()),
        }
        TokenHash(out)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(b).ok().map(TokenHash)
    }
}

/// The time prefix of a secret of [`new_token`]'s shape.
fn time_prefix_of(secret: &str) -> Option<[u8; TIME_PREFIX]> {
    if secret.len() != TOKEN_LEN {
        return None;
    }
    // Decoding only the first 8 characters (6 bytes) is enough and costs nothing.
    let head = URL_SAFE_NO_PAD.decode(&secret.as_bytes()[..8]).ok()?;
    let prefix = <[u8; TIME_PREFIX]>::try_from(head).ok()?;
    secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then_some(prefix)
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &hex(&self.0[..4]))
    }
}

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&k, msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The AES-256-GCM key of `label` under `secret` (HMAC-SHA256(secret, label)).
fn sealing_key(secret: &[u8], label: &[u8]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &hmac_sha256(secret, label)).expect("32-byte key"),
    )
}

/// `nonce ‖ AES-256-GCM(plain)` under the key of `label` derived from `secret`, with `aad` as
/// associated data: what is stored sealed (signing keys, callback bodies) is sealed with this.
pub fn seal(secret: &[u8], label: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce = random_bytes::<12>();
    let mut buf = plain.to_vec();
    sealing_key(secret, label)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .expect("AES-GCM seal cannot fail for in-range lengths");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    out
}

/// What [`seal`] sealed with the same secret, label and `aad`, or `None`.
pub fn open(secret: &[u8], label: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(12);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = ct.to_vec();
    let plain = sealing_key(secret, label)
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

/// Compares two byte strings in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token(1_700_000_000_123);
        let b = new_token(1_700_000_000_123);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_ne!(a, b);
        // 240 random bits: everything after the 8 characters of time differs.
        assert_ne!(a[8..], b[8..]);
        assert_eq!(a[..8], b[..8]);
        assert_eq!(new_id().len(), 32);
    }

    #[test]
    fn storage_keys_sort_by_issue_time() {
        let early = new_token(1_700_000_000_000);
        let late = new_token(1_700_000_000_001);
        let (ke, kl) = (TokenHash::of(&early), TokenHash::of(&late));
        assert!(ke.0 < kl.0);
        assert_eq!(ke.0[..6], 1_700_000_000_000u64.to_be_bytes()[2..]);
        // The rest of the key is the secret's SHA-256.
        let d = digest::digest(&digest::SHA256, early.as_bytes());
        assert_eq!(ke.0[6..], d.as_ref()[..26]);
        assert_ne!(
            TokenHash::of(&early),
            TokenHash::of(&new_token(1_700_000_000_000))
        );
    }

    #[test]
    fn other_strings_hash_to_plain_sha256() {
        // A secret of the earlier 43-character shape keeps the key it was stored under.
        let old = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let d = digest::digest(&digest::SHA256, old.as_bytes());
        assert_eq!(TokenHash::of(&old).0[..], d.as_ref()[..]);
        // 48 characters that are not base64url are hashed plainly too.
        let junk = "!".repeat(TOKEN_LEN);
        let d = digest::digest(&digest::SHA256, junk.as_bytes());
        assert_eq!(TokenHash::of(&junk).0[..], d.as_ref()[..]);
        let nearly = format!("{}!", &new_token(5)[..TOKEN_LEN - 1]);
        let d = digest::digest(&digest::SHA256, nearly.as_bytes());
        assert_eq!(TokenHash::of(&nearly).0[..], d.as_ref()[..]);
    }

    #[test]
    fn ordered_ids_sort_by_time() {
        let a = new_ordered_id(1_700_000_000_000);
        let b = new_ordered_id(1_700_000_000_001);
        assert_eq!(a.len(), 32);
        assert!(a < b);
        assert_eq!(&a[..12], "018bcfe56800");
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hex(&TokenHash::of("abc").0),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_rfc4231_case2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
