//! Truecaller's SDK v2.8 / iOS signed profiles (CONTRACT.md §10): the public keys that verify
//! them (`GET /v1/key`, [`key`]) and the signing of a profile ([`profile`]), which
//! `POST /admin/v1/profiles` and `tcauth profile sign` share.
//!
//! A signed profile is `payload` (standard base64 of the profile JSON built by
//! `tcauth_core::profile`), `signature` (standard base64 of RSASSA-PKCS1-v1_5 with SHA-512
//! over the bytes of the `payload` string, with the current signing key: the key of the
//! JWKS, [`crate::keys`]) and `signatureAlgorithm` `SHA512withRSA`.

pub mod key;
pub mod profile;
