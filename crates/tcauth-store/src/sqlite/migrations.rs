//! Versioned schema migrations (the list is [`crate::migrations`]), tracked with
//! `PRAGMA user_version`.

use super::error::{with_context, SqlResultExt};
use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};

pub(crate) use crate::migrations::LATEST;
use crate::migrations::MIGRATIONS;

pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .db()?;
    u32::try_from(v).map_err(|_| StoreError::Internal(format!("invalid schema version {v}")))
}

fn check_known(version: u32) -> Result<(), StoreError> {
    if version > LATEST {
        return Err(StoreError::Internal(format!(
            "the database has schema version {version}, newer than the latest this build of \
             tcauth knows ({LATEST}); upgrade tcauth"
        )));
    }
    Ok(())
}

/// Applies every pending migration, each in its own `BEGIN IMMEDIATE` transaction together
/// with the `user_version` bump. Safe against another process migrating at the same time: the
/// version is re-read under the write lock. Returns (version before, version after).
pub(crate) fn apply(conn: &mut Connection) -> Result<(u32, u32), StoreError> {
    let before = user_version(conn)?;
    check_known(before)?;
    for m in MIGRATIONS.iter().filter(|m| m.version > before) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let current = user_version(&tx)?;
        check_known(current)?;
        if current >= m.version {
            continue; // someone else applied it meanwhile; dropping `tx` rolls back
        }
        if current + 1 != m.version {
            return Err(StoreError::Internal(format!(
                "schema version {current} cannot be migrated with {}",
                m.name
            )));
        }
        let ctx = format!("migration {}", m.name);
        tx.execute_batch(m.sqlite)
            .db()
            .map_err(|e| with_context(e, &ctx))?;
        tx.pragma_update(None, "user_version", m.version)
            .db()
            .map_err(|e| with_context(e, &ctx))?;
        tx.commit().db().map_err(|e| with_context(e, &ctx))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
    }
    let after = user_version(conn)?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_to_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), (0, LATEST));
        assert_eq!(apply(&mut conn).unwrap(), (LATEST, LATEST));
    }
}
