//! The Mobile Websites outbox (CONTRACT.md §9) and the clients' newer lookups, on one
//! connection: the writer's (inside its transaction) or a reader's. One SQLite file has one
//! writer, so a claim (select the due rows, then lease them) is atomic without row locks.

use super::error::{is_unique_violation, map_err, SqlResultExt};
use super::rows::*;
use super::{exec, insert_access};
use crate::{Result, StoreError};
use rusqlite::{params, Connection};
use tcauth_core::model::{AccessToken, AttemptOutcome, CallbackDelivery, Client, TestNumber};
use tcauth_core::secret::TokenHash;

pub(super) fn update_client(c: &Connection, client: &Client) -> Result<bool> {
    let p = client_params(client)?;
    // client_params is in client_cols order: 0 id, 1 name, 2 redirect_uris, 3 scopes,
    // 4 grant_types, 5 rate_per_second, 6 rate_burst, 7 created_at, 8 branding, 9 app_key,
    // 10 callback_url, 11 callback_salt, 12 package_name, 13 updated_at_ms. The id, the
    // creation time and the app key (?8, ?10) never change, and neither does 14 mode here
    // (only `set_client_live` moves it, and only from test to live), so it is not bound.
    let n = exec(
        c,
        "UPDATE clients SET name = ?2, redirect_uris = ?3, scopes = ?4, grant_types = ?5, \
         rate_per_second = ?6, rate_burst = ?7, branding = ?9, callback_url = ?11, \
         callback_salt = ?12, package_name = ?13, updated_at_ms = ?14 WHERE client_id = ?1",
        rusqlite::params_from_iter(p.into_iter().take(14)),
    )?;
    Ok(n > 0)
}

pub(super) fn set_client_live(c: &Connection, client_id: &str, now_ms: i64) -> Result<bool> {
    let n = exec(
        c,
        "UPDATE clients SET mode = 'live', updated_at_ms = max(?2, updated_at_ms + 1) \
         WHERE client_id = ?1 AND mode = 'test'",
        params![client_id, now_ms],
    )?;
    Ok(n > 0)
}

/// Inserts or replaces (a new code) the test number; `false` if the client does not exist.
pub(super) fn put_test_number(c: &Connection, t: &TestNumber) -> Result<bool> {
    let exists = c
        .prepare_cached("SELECT 1 FROM clients WHERE client_id = ?1")
        .db()?
        .exists([&t.client_id])
        .db()?;
    if !exists {
        return Ok(false);
    }
    exec(
        c,
        concat!(
            "INSERT INTO test_numbers (",
            test_number_cols!(),
            ") VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id, phone_e164) \
             DO UPDATE SET otp = excluded.otp, created_at = excluded.created_at"
        ),
        params![t.client_id, t.phone_e164, t.otp, t.created_at],
    )?;
    Ok(true)
}

pub(super) fn list_test_numbers(c: &Connection, client_id: &str) -> Result<Vec<TestNumber>> {
    let mut stmt = c
        .prepare_cached(concat!(
            "SELECT ",
            test_number_cols!(),
            " FROM test_numbers WHERE client_id = ?1 ORDER BY phone_e164"
        ))
        .db()?;
    let mut rows = stmt.query([client_id]).db()?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db()? {
        out.push(test_number_from_row(r)?);
    }
    Ok(out)
}

pub(super) fn get_test_number(
    c: &Connection,
    client_id: &str,
    e164: &str,
) -> Result<Option<TestNumber>> {
    query_opt(
        c,
        concat!(
            "SELECT ",
            test_number_cols!(),
            " FROM test_numbers WHERE client_id = ?1 AND phone_e164 = ?2"
        ),
        [client_id, e164],
        test_number_from_row,
    )
}

pub(super) fn delete_test_number(c: &Connection, client_id: &str, e164: &str) -> Result<bool> {
    let n = exec(
        c,
        "DELETE FROM test_numbers WHERE client_id = ?1 AND phone_e164 = ?2",
        [client_id, e164],
    )?;
    Ok(n > 0)
}

pub(super) fn get_client_by_app_key(c: &Connection, app_key: &str) -> Result<Option<Client>> {
    query_opt(
        c,
        concat!(
            "SELECT ",
            client_cols!(),
            " FROM clients WHERE app_key = ?1"
        ),
        [app_key],
        client_from_row,
    )
}

pub(super) fn clients_revision(c: &Connection) -> Result<(i64, i64)> {
    c.prepare_cached("SELECT count(*), coalesce(max(updated_at_ms), 0) FROM clients")
        .db()?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .db()
}

pub(super) fn insert_client(c: &Connection, client: &Client) -> Result<()> {
    let r = c
        .prepare_cached(concat!(
            "INSERT INTO clients (",
            client_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))
        .db()?
        .execute(client_params(client)?);
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "client id {} (or its app key) already exists",
            client.client_id
        ))),
        Err(e) => Err(map_err(e)),
    }
}

pub(super) fn finish_web_interaction(
    c: &Connection,
    key: &TokenHash,
    expires_at: i64,
    token: Option<&AccessToken>,
    d: &CallbackDelivery,
) -> Result<bool> {
    // One writer command, so one savepoint: a failed insert takes the key with it.
    let won = exec(
        c,
        "INSERT INTO finished_interactions (hash, expires_at) VALUES (?1, ?2) \
         ON CONFLICT (hash) DO NOTHING",
        params![&key.0[..], expires_at],
    )? == 1;
    if !won {
        return Ok(false);
    }
    if let Some(t) = token {
        insert_access(c, t)?;
    }
    exec(
        c,
        concat!(
            "INSERT INTO callback_deliveries (",
            delivery_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        rusqlite::params_from_iter(delivery_params(d)),
    )?;
    Ok(true)
}

pub(super) fn claim_deliveries(
    c: &Connection,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<Vec<CallbackDelivery>> {
    let due = query_all(
        c,
        concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM callback_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= ?1 \
             AND lease_until_ms <= ?1 ORDER BY next_attempt_at_ms LIMIT ?2"
        ),
        params![now_ms, limit],
        delivery_from_row,
    )?;
    for d in &due {
        exec(
            c,
            "UPDATE callback_deliveries SET lease_until_ms = ?2 WHERE id = ?1",
            params![d.id, lease_until_ms],
        )?;
    }
    Ok(due)
}

pub(super) fn record_delivery_attempt(
    c: &Connection,
    id: &str,
    outcome: &AttemptOutcome,
) -> Result<bool> {
    let n = match outcome {
        AttemptOutcome::Delivered { at } => exec(
            c,
            "UPDATE callback_deliveries SET status = 'delivered', attempts = attempts + 1, \
             delivered_at = ?2, last_error = NULL, lease_until_ms = 0 \
             WHERE id = ?1 AND status = 'pending'",
            params![id, at],
        )?,
        AttemptOutcome::Retry {
            error,
            next_attempt_at_ms,
        } => exec(
            c,
            "UPDATE callback_deliveries SET attempts = attempts + 1, last_error = ?2, \
             next_attempt_at_ms = ?3, lease_until_ms = 0 WHERE id = ?1 AND status = 'pending'",
            params![id, error, next_attempt_at_ms],
        )?,
        AttemptOutcome::Failed { error } => exec(
            c,
            "UPDATE callback_deliveries SET status = 'failed', attempts = attempts + 1, \
             last_error = ?2, lease_until_ms = 0 WHERE id = ?1 AND status = 'pending'",
            params![id, error],
        )?,
    };
    Ok(n > 0)
}

pub(super) fn list_deliveries(
    c: &Connection,
    client_id: &str,
    limit: i64,
) -> Result<Vec<CallbackDelivery>> {
    query_all(
        c,
        concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM callback_deliveries WHERE client_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ),
        params![client_id, limit],
        delivery_from_row,
    )
}

pub(super) fn count_pending_deliveries(c: &Connection) -> Result<u64> {
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM callback_deliveries WHERE status = 'pending'")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    Ok(u64::try_from(n).unwrap_or(0))
}
