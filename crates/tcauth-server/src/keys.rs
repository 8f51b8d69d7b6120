//! RS256 signing keys: generated on first start, sealed at rest with the server secret,
//! published in the JWKS, rotated by `tcauth keys rotate`.
//!
//! The private key is stored as AES-256-GCM(PKCS#1 DER) under a key derived from the server
//! secret, with the `kid` as associated data, so a copy of the database alone signs nothing.

use crate::settings::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use ring::digest;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};
use tcauth_core::model::SigningKeyRecord;
use tcauth_store::{Store, StoreError};

/// How many keys stay published: the current one and the two before it.
pub const KEYS_KEPT: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
    #[error(
        "signing key {0} cannot be opened with this server secret; was TCAUTH_SECRET changed?"
    )]
    Unseal(String),
    #[error("the store has no signing key")]
    NoKey,
    #[error("signing key {0} is not a valid RSA private key: {1}")]
    Invalid(String, String),
    #[error("RSA signing failed")]
    Sign,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The label of the signing keys' sealing key.
const SEAL_LABEL: &[u8] = b"tcauth/v1/signing-key-seal";

fn seal(secret: &Secret, kid: &str, plain: &[u8]) -> Vec<u8> {
    tcauth_core::secret::seal(&secret.0, SEAL_LABEL, kid.as_bytes(), plain)
}

fn unseal(secret: &Secret, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
    tcauth_core::secret::open(&secret.0, SEAL_LABEL, kid.as_bytes(), sealed)
        .ok_or_else(|| KeyError::Unseal(kid.to_string()))
}

/// RFC 7638 thumbprint of an RSA public key, used as its `kid`.
fn thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// Generates a new 2048-bit RSA key, sealed for storage. Slow (CPU-bound): call from a
/// blocking context.
pub fn generate(secret: &Secret, now: i64) -> Result<SigningKeyRecord, KeyError> {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    let kid = thumbprint(&n, &e);
    Ok(SigningKeyRecord {
        private_key_sealed: seal(secret, &kid, der.as_bytes()),
        kid,
        public_n: n,
        public_e: e,
        created_at: now,
        current: true,
    })
}

/// Adds a new current signing key; the previous ones stay published (up to [`KEYS_KEPT`]).
/// Returns the new `kid`.
pub async fn rotate(store: &dyn Store, secret: &Secret) -> Result<String, KeyError> {
    let s = secret.clone();
    let rec = tokio::task::spawn_blocking(move || generate(&s, crate::now()))
        .await
        .map_err(|e| KeyError::Generate(e.to_string()))??;
    store.add_signing_key(&rec, KEYS_KEPT).await?;
    Ok(rec.kid)
}

/// The keys in use: the one that signs, and the JWKS that publishes them all.
pub struct KeySet {
    pub kid: String,
    /// Parsed once: parsing an RSA key costs about as much as a signature.
    signer: PKey<Private>,
    /// The JOSE header of every JWT this key signs, base64url-encoded.
    header_b64: String,
    pub jwks: Value,
    /// `GET /v1/key`'s body (CONTRACT.md §10): the same keys, current first.
    pub key_list: Vec<PublishedKey>,
}

/// One key of `GET /v1/key`: `{"keyType":"RSA","key":"<base64 of the DER SubjectPublicKeyInfo>"}`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedKey {
    #[serde(rename = "keyType")]
    pub key_type: &'static str,
    pub key: String,
}

impl KeySet {
    /// A compact RS256 JWS of `claims` (RFC 7515 §3.1), header `{"typ":"JWT","alg":"RS256","kid"}`.
    /// CPU-bound (one RSA-2048 private-key operation): call it off the async threads.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        let mut jwt = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        jwt.push_str(&self.header_b64);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jwt);
        // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), OpenSSL's default padding for RSA.
        let sig = Signer::new(MessageDigest::sha256(), &self.signer)
            .and_then(|mut s| s.sign_oneshot_to_vec(jwt.as_bytes()))
            .map_err(|_| KeyError::Sign)?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut jwt);
        Ok(jwt)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-512 over `msg` (`SHA512withRSA`, the signed profiles of
    /// CONTRACT.md §10). CPU-bound, as [`KeySet::sign_jwt`].
    pub fn sign_sha512(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        Signer::new(MessageDigest::sha512(), &self.signer)
            .and_then(|mut s| s.sign_oneshot_to_vec(msg))
            .map_err(|_| KeyError::Sign)
    }
}

/// Base64 of the DER SubjectPublicKeyInfo of an RSA public key.
fn spki_base64(r: &SigningKeyRecord) -> Result<String, KeyError> {
    let invalid = |e: openssl::error::ErrorStack| KeyError::Invalid(r.kid.clone(), e.to_string());
    let n = BigNum::from_slice(&r.public_n).map_err(invalid)?;
    let e = BigNum::from_slice(&r.public_e).map_err(invalid)?;
    let der = Rsa::from_public_components(n, e)
        .and_then(PKey::from_rsa)
        .and_then(|k| k.public_key_to_der())
        .map_err(invalid)?;
    Ok(STANDARD.encode(der))
}

impl KeySet {
    fn from_records(secret: &Secret, recs: &[SigningKeyRecord]) -> Result<KeySet, KeyError> {
        let current = recs
            .iter()
            .find(|r| r.current)
            .or(recs.first())
            .ok_or(KeyError::NoKey)?;
        let der = unseal(secret, &current.kid, &current.private_key_sealed)?;
        let keys: Vec<Value> = recs
            .iter()
            .map(|r| {
                json!({"kty":"RSA","use":"sig","alg":"RS256","kid":r.kid,
                    "n":URL_SAFE_NO_PAD.encode(&r.public_n),"e":URL_SAFE_NO_PAD.encode(&r.public_e)})
            })
            .collect();
        // Current first, then the others newest first.
        let mut ordered: Vec<&SigningKeyRecord> = recs.iter().collect();
        ordered.sort_by_key(|r| (r.kid != current.kid, std::cmp::Reverse(r.created_at)));
        let key_list = ordered
            .into_iter()
            .map(|r| {
                Ok(PublishedKey {
                    key_type: "RSA",
                    key: spki_base64(r)?,
                })
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        let signer = Rsa::private_key_from_der(&der)
            .and_then(PKey::from_rsa)
            .map_err(|e| KeyError::Invalid(current.kid.clone(), e.to_string()))?;
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": current.kid});
        Ok(KeySet {
            kid: current.kid.clone(),
            signer,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
            jwks: json!({ "keys": keys }),
            key_list,
        })
    }
}

/// What identifies a set of keys: the current kid, then every kid.
fn fingerprint(recs: &[SigningKeyRecord]) -> Vec<String> {
    let current = recs.iter().find(|r| r.current).map(|r| r.kid.clone());
    current
        .into_iter()
        .chain(recs.iter().map(|r| r.kid.clone()))
        .collect()
}

/// The current [`KeySet`], swapped atomically when the store's keys change.
pub struct KeyRing {
    secret: Secret,
    current: RwLock<Arc<KeySet>>,
    loaded: RwLock<Vec<String>>,
}

impl KeyRing {
    /// Loads the keys, generating the first one if the store has none.
    pub async fn load_or_create(store: &dyn Store, secret: &Secret) -> Result<KeyRing, KeyError> {
        let mut recs = store.list_signing_keys().await?;
        if recs.is_empty() {
            tracing::info!("no signing key yet: generating an RSA-2048 key");
            rotate(store, secret).await?;
            recs = store.list_signing_keys().await?;
        }
        let set = KeySet::from_records(secret, &recs)?;
        Ok(KeyRing {
            secret: secret.clone(),
            current: RwLock::new(Arc::new(set)),
            loaded: RwLock::new(fingerprint(&recs)),
        })
    }

    pub fn get(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the keys; swaps them in only when the set changed.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let recs = store.list_signing_keys().await?;
        if recs.is_empty() {
            return Ok(());
        }
        let kids = fingerprint(&recs);
        if *self.loaded.read().unwrap_or_else(|p| p.into_inner()) == kids {
            return Ok(());
        }
        let set = KeySet::from_records(&self.secret, &recs)?;
        tracing::info!(kid = %set.kid, "signing keys reloaded");
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = kids;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let s = Secret(vec![1; 32]);
        let sealed = seal(&s, "kid1", b"private");
        assert_eq!(unseal(&s, "kid1", &sealed).unwrap(), b"private");
        assert!(unseal(&s, "kid2", &sealed).is_err());
        assert!(unseal(&Secret(vec![2; 32]), "kid1", &sealed).is_err());
        assert!(unseal(&s, "kid1", &sealed[..10]).is_err());
    }
}
