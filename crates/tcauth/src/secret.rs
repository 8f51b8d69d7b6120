//! The server secret and the data directory that keeps it.
//!
//! The secret keys every HMAC and seals the signing keys at rest, so every command that needs
//! it (`serve`, `keys rotate`) obtains it the same way, first found wins:
//! 1. `TCAUTH_SECRET`;
//! 2. `secret` in `tcauth.toml`;
//! 3. `<data-dir>/secret`, generated on first use: 32 random bytes as base64url text, mode 0600.
//!
//! A configured value (1 or 2) is decoded as base64url or base64 (padding optional) when it is
//! valid base64 of at least 32 bytes; otherwise its text itself is the secret and must then be
//! at least 32 bytes long.

use crate::errors::usage;
use anyhow::{Context, Result};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tcauth_server::Secret;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET: usize = 32;
/// Name of the generated secret file inside the data dir.
pub const SECRET_FILE: &str = "secret";

/// Where the secret came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    Config,
    /// Read from the data dir's file; `true` when this run generated it.
    File(PathBuf, bool),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env => f.write_str("TCAUTH_SECRET"),
            SecretSource::Config => f.write_str("the config file"),
            SecretSource::File(p, true) => write!(f, "{} (generated now)", p.display()),
            SecretSource::File(p, false) => write!(f, "{}", p.display()),
        }
    }
}

/// Obtains the secret: `TCAUTH_SECRET`, else `config_secret`, else the data dir's file.
pub fn obtain(config_secret: Option<&str>, data_dir: &Path) -> Result<(Secret, SecretSource)> {
    if let Some(v) = std::env::var_os("TCAUTH_SECRET").filter(|v| !v.is_empty()) {
        let v = v
            .into_string()
            .map_err(|_| usage("TCAUTH_SECRET is not valid UTF-8"))?;
        return Ok((parse_configured(&v, "TCAUTH_SECRET")?, SecretSource::Env));
    }
    if let Some(v) = config_secret {
        return Ok((
            parse_configured(v, "secret in the config file")?,
            SecretSource::Config,
        ));
    }
    ensure_data_dir(data_dir)?;
    let path = data_dir.join(SECRET_FILE);
    let created = create_if_missing(&path)?;
    Ok((read_file(&path)?, SecretSource::File(path, created)))
}

/// Decodes a configured secret as described in the module documentation.
pub fn parse_configured(text: &str, origin: &str) -> Result<Secret> {
    let t = text.trim();
    if let Some(bytes) = decode_base64(t).filter(|b| b.len() >= MIN_SECRET) {
        return Ok(Secret(bytes));
    }
    if t.len() >= MIN_SECRET {
        return Ok(Secret(t.as_bytes().to_vec()));
    }
    Err(usage(format!(
        "{origin} is too short: give at least {MIN_SECRET} random bytes, as base64 \
         (e.g. the output of `openssl rand -base64 32`) or as at least {MIN_SECRET} characters \
         of text; or unset it to use a generated <data-dir>/secret"
    )))
}

/// base64url or standard base64, padding optional.
fn decode_base64(t: &str) -> Option<Vec<u8>> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [
        GeneralPurpose::new(&alphabet::URL_SAFE, config),
        GeneralPurpose::new(&alphabet::STANDARD, config),
    ]
    .iter()
    .find_map(|e| e.decode(t).ok())
}

/// Creates `dir` (and its parents) with mode 0700 if missing; warns when it is open to others.
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "data dir {} has mode {mode:04o}: others may read it; run `chmod 700 {}`",
                    dir.display(),
                    dir.display()
                );
            }
            Ok(())
        }
        Ok(_) => Err(usage(format!(
            "data dir {} exists but is not a directory; choose another with --data-dir",
            dir.display()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| {
                format!(
                    "cannot create data dir {}; check the permissions of its parent or \
                     choose another with --data-dir",
                    dir.display()
                )
            }),
        Err(e) => Err(e).with_context(|| format!("cannot read data dir {}", dir.display())),
    }
}

/// Generates the secret file unless it exists. Returns whether it was created.
///
/// The bytes go to a private temporary file first, which is then hard-linked into place: two
/// processes starting at once agree on one secret, and nobody ever reads a half-written file.
fn create_if_missing(path: &Path) -> Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let nonce = tcauth_core::secret::hex(&tcauth_core::secret::random_bytes::<8>());
    let tmp = dir.join(format!(".{SECRET_FILE}.{nonce}.tmp"));
    let text = URL_SAFE_NO_PAD.encode(tcauth_core::secret::random_bytes::<32>());
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{text}\n").as_bytes())?;
        f.sync_all()
    };
    let written = write().with_context(|| format!("cannot write {}", tmp.display()));
    let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    });
    let _ = fs::remove_file(&tmp);
    let created = linked?;
    if created {
        // Make the new directory entry durable too.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(created)
}

/// Reads the generated secret file: base64url of at least 32 bytes.
fn read_file(path: &Path) -> Result<Secret> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            "secret file {} has mode {mode:04o}: others may read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let text = fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the secret file {}; check its owner and mode",
            path.display()
        )
    })?;
    match decode_base64(text.trim()) {
        Some(b) if b.len() >= MIN_SECRET => Ok(Secret(b)),
        _ => Err(anyhow::anyhow!(
            "the secret file {} is damaged (expected base64url of {MIN_SECRET} bytes); restore \
             it from a backup: the signing keys in the database are sealed with it",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_secrets() {
        // 32 bytes as base64url, unpadded and as standard padded base64
        let b = [7u8; 32];
        let s = URL_SAFE_NO_PAD.encode(b);
        assert_eq!(parse_configured(&s, "x").unwrap().0, b.to_vec());
        let std = base64::engine::general_purpose::STANDARD.encode(b);
        assert_eq!(parse_configured(&std, "x").unwrap().0, b.to_vec());
        // text that is not base64 of 32 bytes is used as is
        let text = "correct horse battery staple, and more words";
        assert_eq!(parse_configured(text, "x").unwrap().0, text.as_bytes());
        assert!(parse_configured("short", "x").is_err());
    }

    #[test]
    fn file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        ensure_data_dir(&data).unwrap();
        assert_eq!(
            fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let path = data.join(SECRET_FILE);
        assert!(create_if_missing(&path).unwrap());
        assert!(!create_if_missing(&path).unwrap());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let a = read_file(&path).unwrap();
        assert_eq!(a.0.len(), 32);
        assert_eq!(read_file(&path).unwrap(), a);
        // no temporary files are left behind
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
    }
}
