//! Mapping PostgreSQL and pool failures onto [`StoreError`].

use crate::StoreError;
use deadpool_postgres::{HookError, PoolError, TimeoutType};
use std::error::Error as _;
use tokio_postgres::error::SqlState;

/// What a failure means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Unavailable,
    Conflict,
    Internal,
}

/// Classifies a server error by its SQLSTATE:
/// - connection exceptions (08), query canceled — statement timeout — (57014), operator
///   intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now),
///   insufficient resources (53: too many connections, disk full, out of memory), system
///   errors (58: I/O), serialization failure (40001), deadlock (40P01), lock not available
///   (55P03) and a read-only transaction (25006: a standby after a failover) → `Unavailable`;
/// - unique violation (23505) → `Conflict`;
/// - anything else → `Internal`.
pub(crate) fn classify(code: &SqlState) -> Class {
    let c = code.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        return Class::Conflict;
    }
    let unavailable = c.starts_with("08")
        || c.starts_with("53")
        || c.starts_with("58")
        || *code == SqlState::QUERY_CANCELED
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION;
    if unavailable {
        Class::Unavailable
    } else {
        Class::Internal
    }
}

/// The error and its sources, on one line: tokio-postgres puts the useful part (the server's
/// message, the I/O error) in the source. A server error's DETAIL is left out: it may quote
/// row values (hashes, phone numbers, sealed keys), which do not belong in logs.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Whether a client-side failure means the server could not be reached or the connection is
/// gone: a closed connection, an I/O error (connect, read, write), a TLS failure or a timeout.
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = e.source();
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    // tokio-postgres does not expose its error kinds; these are its messages for them.
    let s = e.to_string();
    s.starts_with("error performing TLS handshake")
        || s.starts_with("timeout waiting for server")
        || s.starts_with("error connecting to server")
}

/// Maps a tokio-postgres error to the store's error kinds (see [`classify`]); failures on the
/// client side of the connection are `Unavailable`, anything else (a value that does not
/// encode or decode, an unexpected message) is `Internal`.
pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    let class = match e.code() {
        Some(code) => classify(code),
        None if is_connection_failure(&e) => Class::Unavailable,
        None => Class::Internal,
    };
    let msg = describe(&e);
    match class {
        Class::Unavailable => StoreError::Unavailable(format!("PostgreSQL: {msg}")),
        Class::Conflict => StoreError::Conflict(msg),
        Class::Internal => StoreError::Internal(format!("PostgreSQL: {msg}")),
    }
}

/// Whether `e` is a unique violation of the constraint (or unique index) `name`.
pub(crate) fn is_unique_violation_on(e: &tokio_postgres::Error, name: &str) -> bool {
    e.as_db_error()
        .is_some_and(|db| *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(name))
}

/// Maps a failure to get a pooled connection. `target` names the server (never the password).
pub(crate) fn map_pool_err(e: PoolError, target: &str) -> StoreError {
    match e {
        PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(format!(
            "timed out waiting for a free connection to PostgreSQL at {target} (all pooled \
             connections are busy)"
        )),
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::Unavailable(format!("timed out connecting to PostgreSQL at {target}"))
        }
        PoolError::Timeout(TimeoutType::Recycle) => StoreError::Unavailable(format!(
            "timed out checking a pooled connection to PostgreSQL at {target}"
        )),
        PoolError::Backend(e) => with_context(
            map_err(e),
            &format!("cannot connect to PostgreSQL at {target}"),
        ),
        PoolError::PostCreateHook(HookError::Backend(e)) => with_context(
            map_err(e),
            &format!("cannot set up a connection to PostgreSQL at {target}"),
        ),
        PoolError::Closed => StoreError::Unavailable("the PostgreSQL pool is closed".into()),
        other => StoreError::Internal(format!("PostgreSQL pool: {other}")),
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

/// `?`-friendly conversion of tokio-postgres results.
pub(crate) trait PgResultExt<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> PgResultExt<T> for Result<T, tokio_postgres::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sqlstates() {
        for code in [
            "08000", "08006", "08001", "08003", "57014", "57P01", "57P02", "57P03", "53300",
            "53100", "53200", "58030", "40001", "40P01", "55P03", "25006",
        ] {
            assert_eq!(
                classify(&SqlState::from_code(code)),
                Class::Unavailable,
                "{code}"
            );
        }
        assert_eq!(classify(&SqlState::from_code("23505")), Class::Conflict);
        for code in [
            "23503", "23514", "23502", "42P01", "42703", "22P02", "XX000", "3D000", "28P01",
        ] {
            assert_eq!(
                classify(&SqlState::from_code(code)),
                Class::Internal,
                "{code}"
            );
        }
    }

    #[test]
    fn context_keeps_the_kind() {
        assert!(matches!(
            with_context(StoreError::Unavailable("x".into()), "c"),
            StoreError::Unavailable(m) if m == "c: x"
        ));
        assert!(matches!(
            with_context(StoreError::Conflict("x".into()), "c"),
            StoreError::Conflict(_)
        ));
    }
}
