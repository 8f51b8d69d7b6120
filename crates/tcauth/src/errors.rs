//! How the binary fails: which exit code, and what the operator should do next.

use std::fmt;
use tcauth_store::StoreError;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status when an operation failed (not found, conflict, store or I/O failure).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when the command line or the input's fields are malformed.
pub const EXIT_USAGE: u8 = 2;

/// An error the operator fixes by changing the command line, the configuration or the input.
/// Anywhere in an error's chain, it makes the binary exit with [`EXIT_USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The exit status for an error that reached `main`.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// A store error with what to do about it.
pub fn store_error(err: StoreError) -> anyhow::Error {
    let hint = match &err {
        StoreError::Unavailable(_) => {
            "the database is busy or unreachable: is another tcauth using the data dir, \
             or is the disk full? Try again, or stop the other process"
        }
        StoreError::Conflict(_) => return anyhow::anyhow!("{err}"),
        StoreError::Internal(_) => {
            "a bug or a damaged database: check the file or restore a backup, \
             and report it with the output of TCAUTH_LOG=debug"
        }
    };
    anyhow::anyhow!("{err}; {hint}")
}
