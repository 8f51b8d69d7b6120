//! Signing keys: the statements behind `impl Store for PgStore`'s key methods (`store.rs`).

use super::error::{is_unique_violation_on, map_err, PgResultExt};
use super::rows::*;
use crate::{Result, StoreError};
use deadpool_postgres::Object;
use tcauth_core::model::SigningKeyRecord;

pub(super) async fn list_signing_keys(c: &Object) -> Result<Vec<SigningKeyRecord>> {
    let sql = concat!(
        "SELECT ",
        key_cols!(),
        " FROM signing_keys ORDER BY created_at DESC, seq DESC"
    );
    query_all(c, sql, &[], key_from_row).await
}

pub(super) async fn add_signing_key(
    c: &mut Object,
    key: &SigningKeyRecord,
    keep: usize,
) -> Result<()> {
    // The new key always survives, whatever `keep` says.
    let keep = clamp_i64(keep.max(1));
    let tx = c.transaction().await.db()?;
    // Rotations from several nodes at once take turns (readers are not blocked), so
    // exactly one key ends up current and `seq` follows commit order.
    tx.batch_execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .await
        .db()?;
    exec(
        &tx,
        "UPDATE signing_keys SET current = FALSE WHERE current",
        &[],
    )
    .await?;
    let stmt = tx
        .prepare_cached(concat!(
            "INSERT INTO signing_keys (",
            key_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, TRUE)"
        ))
        .await
        .db()?;
    let params: [Param; 5] = [
        &key.kid,
        &key.private_key_sealed,
        &key.public_n,
        &key.public_e,
        &key.created_at,
    ];
    match tx.execute(&stmt, &params).await {
        Ok(_) => {}
        Err(e) if is_unique_violation_on(&e, "signing_keys_pkey") => {
            return Err(StoreError::Conflict(format!(
                "signing key {} already exists",
                key.kid
            )))
        }
        Err(e) => return Err(map_err(e)),
    }
    exec(
        &tx,
        "DELETE FROM signing_keys WHERE kid NOT IN \
         (SELECT kid FROM signing_keys \
          ORDER BY current DESC, created_at DESC, seq DESC LIMIT $1)",
        &[&keep],
    )
    .await?;
    tx.commit().await.db()
}
