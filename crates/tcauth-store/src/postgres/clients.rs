//! Clients: the statements behind `impl Store for PgStore`'s client methods (`store.rs`).

use super::error::{is_unique_violation_on, map_err, PgResultExt};
use super::rows::*;
use crate::{Result, StoreError};
use deadpool_postgres::Object;
use tcauth_core::model::{Branding, Client, TestNumber};
use tokio_postgres::types::Json;

pub(super) async fn create_client(c: &Object, client: &Client) -> Result<()> {
    let (per_second, burst) = rate_columns(client.rate_limit);
    let stmt = c
        .prepare_cached(concat!(
            "INSERT INTO clients (",
            client_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .await
        .db()?;
    let r = c
        .execute(
            &stmt,
            &[
                &client.client_id,
                &client.name,
                &Json(&client.redirect_uris),
                &client.scopes.to_string(),
                &Json(&client.grant_types),
                &per_second,
                &burst,
                &client.created_at,
                &client.branding.as_ref().map(Json),
                &client.app_key,
                &client.callback_url,
                &client.callback_salt,
                &client.package_name,
                &client.updated_at_ms,
                &client.mode.as_str(),
            ],
        )
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation_on(&e, "clients_by_app_key") => Err(StoreError::Conflict(
            format!("app key of client {} already exists", client.client_id),
        )),
        Err(e) if is_unique_violation_on(&e, "clients_pkey") => Err(StoreError::Conflict(format!(
            "client id {} already exists",
            client.client_id
        ))),
        Err(e) => Err(map_err(e)),
    }
}

pub(super) async fn get_client(c: &Object, client_id: &str) -> Result<Option<Client>> {
    let sql = concat!(
        "SELECT ",
        client_cols!(),
        " FROM clients WHERE client_id = $1"
    );
    query_opt(c, sql, &[&client_id], client_from_row).await
}

pub(super) async fn list_clients(c: &Object) -> Result<Vec<Client>> {
    let sql = concat!(
        "SELECT ",
        client_cols!(),
        " FROM clients ORDER BY created_at, client_id"
    );
    query_all(c, sql, &[], client_from_row).await
}

pub(super) async fn delete_client(c: &Object, client_id: &str) -> Result<bool> {
    let n = exec(c, "DELETE FROM clients WHERE client_id = $1", &[&client_id]).await?;
    Ok(n > 0)
}

pub(super) async fn set_client_branding(
    c: &Object,
    client_id: &str,
    branding: Option<&Branding>,
) -> Result<bool> {
    let sql = "UPDATE clients SET branding = $2 WHERE client_id = $1";
    Ok(exec(c, sql, &[&client_id, &branding.map(Json)]).await? > 0)
}

pub(super) async fn update_client(c: &Object, client: &Client) -> Result<bool> {
    let (per_second, burst) = rate_columns(client.rate_limit);
    let sql = "UPDATE clients SET name = $2, redirect_uris = $3, scopes = $4, grant_types = $5, \
               rate_per_second = $6, rate_burst = $7, branding = $8, callback_url = $9, \
               callback_salt = $10, package_name = $11, updated_at_ms = $12 \
               WHERE client_id = $1";
    let n = exec(
        c,
        sql,
        &[
            &client.client_id,
            &client.name,
            &Json(&client.redirect_uris),
            &client.scopes.to_string(),
            &Json(&client.grant_types),
            &per_second,
            &burst,
            &client.branding.as_ref().map(Json),
            &client.callback_url,
            &client.callback_salt,
            &client.package_name,
            &client.updated_at_ms,
        ],
    )
    .await?;
    Ok(n > 0)
}

pub(super) async fn get_client_by_app_key(c: &Object, app_key: &str) -> Result<Option<Client>> {
    let sql = concat!(
        "SELECT ",
        client_cols!(),
        " FROM clients WHERE app_key = $1"
    );
    query_opt(c, sql, &[&app_key], client_from_row).await
}

pub(super) async fn clients_revision(c: &Object) -> Result<(i64, i64)> {
    let sql = "SELECT count(*), coalesce(max(updated_at_ms), 0)::bigint FROM clients";
    let rev = query_opt(c, sql, &[], |r| Ok((get::<i64>(r, 0)?, get::<i64>(r, 1)?))).await?;
    Ok(rev.unwrap_or((0, 0)))
}

/// Only from test to live; `updated_at_ms` moves forward by at least 1 ms.
pub(super) async fn set_client_live(c: &Object, client_id: &str, now_ms: i64) -> Result<bool> {
    let sql = "UPDATE clients SET mode = 'live', updated_at_ms = greatest($2, updated_at_ms + 1) \
               WHERE client_id = $1 AND mode = 'test'";
    Ok(exec(c, sql, &[&client_id, &now_ms]).await? > 0)
}

/// One statement: nothing is written unless the client exists.
pub(super) async fn put_test_number(c: &Object, t: &TestNumber) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO test_numbers (",
        test_number_cols!(),
        ") SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM clients WHERE client_id = $1) \
         ON CONFLICT (client_id, phone_e164) DO UPDATE SET otp = excluded.otp, created_at = excluded.created_at"
    );
    let n = exec(
        c,
        sql,
        &[&t.client_id, &t.phone_e164, &t.otp, &t.created_at],
    )
    .await?;
    Ok(n > 0)
}

pub(super) async fn list_test_numbers(c: &Object, client_id: &str) -> Result<Vec<TestNumber>> {
    let sql = concat!(
        "SELECT ",
        test_number_cols!(),
        " FROM test_numbers WHERE client_id = $1 ORDER BY phone_e164 COLLATE \"C\""
    );
    query_all(c, sql, &[&client_id], test_number_from_row).await
}

pub(super) async fn get_test_number(
    c: &Object,
    client_id: &str,
    e164: &str,
) -> Result<Option<TestNumber>> {
    let sql = concat!(
        "SELECT ",
        test_number_cols!(),
        " FROM test_numbers WHERE client_id = $1 AND phone_e164 = $2"
    );
    query_opt(c, sql, &[&client_id, &e164], test_number_from_row).await
}

pub(super) async fn delete_test_number(c: &Object, client_id: &str, e164: &str) -> Result<bool> {
    let sql = "DELETE FROM test_numbers WHERE client_id = $1 AND phone_e164 = $2";
    Ok(exec(c, sql, &[&client_id, &e164]).await? > 0)
}
