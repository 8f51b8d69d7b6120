//! The Mobile Websites outbox (CONTRACT.md §9): the statements behind `impl Store for
//! PgStore`'s delivery methods (`store.rs`). Nodes lease due rows with `FOR UPDATE SKIP
//! LOCKED`, so two nodes never claim one delivery at once and neither waits for the other.

use super::error::PgResultExt;
use super::rows::*;
use crate::Result;
use deadpool_postgres::Object;
use tcauth_core::model::{AccessToken, AttemptOutcome, CallbackDelivery};
use tcauth_core::secret::TokenHash;

pub(super) async fn finish_web_interaction(
    c: &mut Object,
    key: &TokenHash,
    expires_at: i64,
    token: Option<&AccessToken>,
    d: &CallbackDelivery,
) -> Result<bool> {
    let tx = c.transaction().await.db()?;
    let key: &[u8] = &key.0[..];
    let won = exec(
        &tx,
        "INSERT INTO finished_interactions (hash, expires_at) VALUES ($1, $2) \
         ON CONFLICT (hash) DO NOTHING",
        &[&key, &expires_at],
    )
    .await?
        == 1;
    if !won {
        // Nothing was written; dropping the transaction rolls it back.
        return Ok(false);
    }
    if let Some(t) = token {
        let hash: &[u8] = &t.hash.0[..];
        let scopes = t.scopes.to_string();
        exec(
            &tx,
            concat!(
                "INSERT INTO access_tokens (",
                access_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &hash,
                &t.family_id,
                &t.client_id,
                &t.sub,
                &scopes,
                &t.issued_at,
                &t.expires_at,
                &t.revoked,
            ],
        )
        .await?;
    }
    let attempts = i32::try_from(d.attempts).unwrap_or(i32::MAX);
    exec(
        &tx,
        concat!(
            "INSERT INTO callback_deliveries (",
            delivery_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &[
            &d.id,
            &d.client_id,
            &d.request_id,
            &d.url,
            &d.body_sealed,
            &d.status.as_str(),
            &attempts,
            &d.last_error,
            &d.next_attempt_at_ms,
            &d.expires_at,
            &d.created_at,
            &d.delivered_at,
        ],
    )
    .await?;
    tx.commit().await.db()?;
    Ok(true)
}

pub(super) async fn claim_deliveries(
    c: &Object,
    now_ms: i64,
    lease_until_ms: i64,
    limit: usize,
) -> Result<Vec<CallbackDelivery>> {
    let sql = concat!(
        "WITH due AS (SELECT id FROM callback_deliveries \
         WHERE status = 'pending' AND next_attempt_at_ms <= $1 AND lease_until_ms <= $1 \
         ORDER BY next_attempt_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE callback_deliveries d SET lease_until_ms = $2 FROM due WHERE d.id = due.id \
         RETURNING ",
        "d.id, d.client_id, d.request_id, d.url, d.body_sealed, d.status, d.attempts, \
         d.last_error, d.next_attempt_at_ms, d.expires_at, d.created_at, d.delivered_at"
    );
    let mut rows = query_all(
        c,
        sql,
        &[&now_ms, &lease_until_ms, &clamp_i64(limit)],
        delivery_from_row,
    )
    .await?;
    rows.sort_by_key(|d| d.next_attempt_at_ms);
    Ok(rows)
}

pub(super) async fn record_delivery_attempt(
    c: &Object,
    id: &str,
    outcome: &AttemptOutcome,
) -> Result<bool> {
    let n =
        match outcome {
            AttemptOutcome::Delivered { at } => exec(
                c,
                "UPDATE callback_deliveries SET status = 'delivered', attempts = attempts + 1, \
                 delivered_at = $2, last_error = NULL, lease_until_ms = 0 \
                 WHERE id = $1 AND status = 'pending'",
                &[&id, at],
            )
            .await?,
            AttemptOutcome::Retry {
                error,
                next_attempt_at_ms,
            } => {
                exec(
                    c,
                    "UPDATE callback_deliveries SET attempts = attempts + 1, last_error = $2, \
                 next_attempt_at_ms = $3, lease_until_ms = 0 \
                 WHERE id = $1 AND status = 'pending'",
                    &[&id, error, next_attempt_at_ms],
                )
                .await?
            }
            AttemptOutcome::Failed { error } => {
                exec(
                    c,
                    "UPDATE callback_deliveries SET status = 'failed', attempts = attempts + 1, \
                 last_error = $2, lease_until_ms = 0 WHERE id = $1 AND status = 'pending'",
                    &[&id, error],
                )
                .await?
            }
        };
    Ok(n > 0)
}

pub(super) async fn list_deliveries(
    c: &Object,
    client_id: &str,
    limit: usize,
) -> Result<Vec<CallbackDelivery>> {
    let sql = concat!(
        "SELECT ",
        delivery_cols!(),
        " FROM callback_deliveries WHERE client_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    query_all(c, sql, &[&client_id, &clamp_i64(limit)], delivery_from_row).await
}

pub(super) async fn count_pending_deliveries(c: &Object) -> Result<u64> {
    let sql = "SELECT count(*) FROM callback_deliveries WHERE status = 'pending'";
    let n = query_opt(c, sql, &[], |r| get::<i64>(r, 0)).await?;
    Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}
