//! Mapping SQLite failures onto [`StoreError`].

use crate::StoreError;
use rusqlite::ffi;
use rusqlite::ErrorCode;

/// Maps a SQLite error to the store's error kinds:
/// - busy/locked, I/O errors, disk full, cannot open, WAL lock protocol → `Unavailable`;
/// - UNIQUE / PRIMARY KEY constraint → `Conflict` (callers usually replace the message with
///   one naming the offending value);
/// - anything else (including values that do not decode) → `Internal`.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::FileLockingProtocolFailed => StoreError::Unavailable(e.to_string()),
            ErrorCode::ConstraintViolation if is_unique(f) => StoreError::Conflict(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        },
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_unique(f: &ffi::Error) -> bool {
    f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
}

/// Whether `e` is a UNIQUE or PRIMARY KEY constraint violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation && is_unique(f))
}

/// Whether `e` is a uniqueness violation on `table.column` (SQLite names it in the message,
/// e.g. `UNIQUE constraint failed: users.phone_e164`).
pub(crate) fn is_unique_violation_on(e: &rusqlite::Error, table_column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains(table_column))
        && is_unique_violation(e)
}

/// `?`-friendly conversion of rusqlite results.
pub(crate) trait SqlResultExt<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> SqlResultExt<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(map_err)
    }
}

/// A copy of `e` (StoreError is not `Clone`), for handing one failure to many callers.
pub(crate) fn duplicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Internal(m) => StoreError::Internal(m.clone()),
    }
}

/// `e` with `context` prefixed to its message, keeping its kind.
pub(crate) fn with_context(e: StoreError, context: &str) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{context}: {m}")),
        StoreError::Conflict(m) => StoreError::Conflict(format!("{context}: {m}")),
        StoreError::Internal(m) => StoreError::Internal(format!("{context}: {m}")),
    }
}

/// I/O errors from the file system (creating the directory or file) → `Unavailable`.
pub(crate) fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(msg.to_string()))
    }

    #[test]
    fn maps_kinds() {
        assert!(matches!(
            map_err(failure(ffi::SQLITE_BUSY, "busy")),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_LOCKED, "locked")),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_IOERR_FSYNC, "io")),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_FULL, "full")),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_CANTOPEN, "cantopen")),
            StoreError::Unavailable(_)
        ));
        let unique = failure(
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            "UNIQUE constraint failed: users.phone_e164",
        );
        assert!(is_unique_violation_on(&unique, "users.phone_e164"));
        assert!(!is_unique_violation_on(&unique, "users.sub"));
        assert!(matches!(map_err(unique), StoreError::Conflict(_)));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_CONSTRAINT_CHECK, "check")),
            StoreError::Internal(_)
        ));
        assert!(matches!(
            map_err(failure(ffi::SQLITE_CORRUPT, "corrupt")),
            StoreError::Internal(_)
        ));
        assert!(matches!(
            map_err(rusqlite::Error::InvalidColumnType(
                0,
                "x".into(),
                rusqlite::types::Type::Null
            )),
            StoreError::Internal(_)
        ));
    }
}
