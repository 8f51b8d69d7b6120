//! Versioned schema migrations (the list is [`crate::migrations`]), recorded in the
//! `tcauth_schema` table (one row per applied version) and applied under a transaction-level
//! advisory lock, so that several nodes starting at once apply each migration exactly once.

use super::error::{with_context, PgResultExt};
use crate::StoreError;
use tokio_postgres::Client;

pub(crate) use crate::migrations::LATEST;
use crate::migrations::MIGRATIONS;

/// Taken first in every migration transaction: an advisory lock private to the schema the
/// tables go into (the first of the search_path), so tcauth installations in different
/// schemas of one database do not wait for each other. Then the version table, if missing.
const LOCK_AND_PREPARE: &str = "\
    SELECT pg_advisory_xact_lock(1952670069, hashtext(coalesce(current_schema(), ''))); \
    CREATE TABLE IF NOT EXISTS tcauth_schema ( \
        version    INTEGER     NOT NULL PRIMARY KEY, \
        name       TEXT        NOT NULL, \
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now() \
    );";

fn check_known(version: u32) -> Result<(), StoreError> {
    if version > LATEST {
        return Err(StoreError::Internal(format!(
            "the PostgreSQL database has schema version {version}, newer than the latest this \
             build of tcauth knows ({LATEST}); upgrade tcauth"
        )));
    }
    Ok(())
}

async fn version(tx: &tokio_postgres::Transaction<'_>) -> Result<u32, StoreError> {
    let v: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM tcauth_schema", &[])
        .await
        .db()?
        .try_get(0)
        .db()?;
    u32::try_from(v).map_err(|_| StoreError::Internal(format!("invalid schema version {v}")))
}

/// Applies every pending migration, each in its own transaction together with its row in
/// `tcauth_schema`, under the advisory lock; the version is re-read under the lock, so a
/// migration another node applied meanwhile is skipped. Returns (version before, version
/// after). A database newer than this build is refused with `Internal`, untouched.
pub(crate) async fn apply(client: &mut Client) -> Result<(u32, u32), StoreError> {
    let mut before = None;
    loop {
        let tx = client.transaction().await.db()?;
        tx.batch_execute(LOCK_AND_PREPARE)
            .await
            .db()
            .map_err(|e| with_context(e, "preparing the schema version table"))?;
        let current = version(&tx).await?;
        let before = *before.get_or_insert(current);
        check_known(current)?;
        let Some(m) = MIGRATIONS.get(current as usize) else {
            tx.commit().await.db()?;
            return Ok((before, current));
        };
        let ctx = format!("migration {}", m.name);
        tx.batch_execute(m.postgres)
            .await
            .db()
            .map_err(|e| with_context(e, &ctx))?;
        let v = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO tcauth_schema (version, name) VALUES ($1, $2)",
            &[&v, &m.name],
        )
        .await
        .db()
        .map_err(|e| with_context(e, &ctx))?;
        tx.commit().await.db().map_err(|e| with_context(e, &ctx))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied PostgreSQL migration"
        );
    }
}
