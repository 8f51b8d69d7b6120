//! Validation of what operators send (admin API, CLI, CSV import) into records.
//! Each error names the offending field, so every front end can report it as is.
//!
//! One module per record: [`client`], [`user`], [`branding`]; [`uri`] has the URI rules they
//! share. Everything is re-exported here.

mod branding;
mod client;
mod uri;
mod user;

pub use branding::NewBranding;
pub use client::{check_package_name, ClientPatch, NewClient, NewTestNumber, DEFAULT_TEST_OTP};
pub use uri::{check_callback_url, check_https_url, check_redirect_uri};
pub use user::{NewUser, GENDERS};

/// A field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub const MAX_NAME: usize = 128;
pub const MAX_REDIRECT_URIS: usize = 20;
pub const MAX_URI: usize = 2048;
pub const MAX_TEXT: usize = 256;
pub const MAX_RATE: u32 = 1_000_000;

/// Empty or blank text counts as absent.
fn opt_text(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim().to_string();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(v))
}

/// A new user id: random, positive, below 2^53 so JavaScript clients keep it exact.
pub fn new_sub() -> i64 {
    let b = crate::secret::random_bytes::<8>();
    let n = u64::from_le_bytes(b) & ((1u64 << 53) - 1);
    (n.max(1)) as i64
}

/// A new client id: 24 lower-case alphanumerics (about 124 bits).
pub fn new_client_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(24);
    for b in crate::secret::random_bytes::<48>() {
        // rejection sampling keeps the alphabet uniform
        if (b as usize) < 252 {
            out.push(ALPHABET[b as usize % 36] as char);
            if out.len() == 24 {
                break;
            }
        }
    }
    while out.len() < 24 {
        out.push_str(&new_client_id()[..24 - out.len()]);
    }
    out
}

#[cfg(test)]
mod tests;
