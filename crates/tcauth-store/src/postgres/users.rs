//! Users: the statements behind `impl Store for PgStore`'s user methods (`store.rs`), with
//! the batch import and the conflict messages it shares with single inserts.

use super::error::{is_unique_violation_on, map_err, PgResultExt};
use super::rows::*;
use crate::{Result, StoreError};
use deadpool_postgres::{GenericClient, Object};
use std::collections::HashSet;
use tcauth_core::model::{User, UserStatus};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;

/// A unique violation on `users`, named as the SQLite backend names it.
fn user_conflict(e: tokio_postgres::Error, u: &User) -> StoreError {
    if is_unique_violation_on(&e, "users_pkey") {
        StoreError::Conflict(format!(
            "user sub {} (phone number {}) is already taken",
            u.sub, u.phone_e164
        ))
    } else if is_unique_violation_on(&e, "users_phone_e164_key") {
        StoreError::Conflict(format!(
            "phone number {} is already registered",
            u.phone_e164
        ))
    } else {
        map_err(e)
    }
}

pub(super) async fn get_user_on(c: &impl GenericClient, sub: i64) -> Result<Option<User>> {
    let sql = concat!("SELECT ", user_cols!(), " FROM users WHERE sub = $1");
    query_opt(c, sql, &[&sub], user_from_row).await
}

/// The first user of `users` (in order) whose sub or phone number is taken, by the database
/// (`taken_*`) or by an earlier user of the batch, with the message SQLite's one-by-one
/// inserts would give.
fn first_conflict(
    users: &[User],
    taken_subs: &HashSet<i64>,
    taken_phones: &HashSet<String>,
) -> Option<StoreError> {
    let mut subs = HashSet::new();
    let mut phones = HashSet::new();
    for u in users {
        if taken_subs.contains(&u.sub) || !subs.insert(u.sub) {
            return Some(StoreError::Conflict(format!(
                "user sub {} (phone number {}) is already taken",
                u.sub, u.phone_e164
            )));
        }
        if taken_phones.contains(&u.phone_e164) || !phones.insert(u.phone_e164.as_str()) {
            return Some(StoreError::Conflict(format!(
                "phone number {} is already registered",
                u.phone_e164
            )));
        }
    }
    None
}

pub(super) async fn import(c: &mut Object, users: &[User]) -> Result<()> {
    let subs: Vec<i64> = users.iter().map(|u| u.sub).collect();
    let phones: Vec<&str> = users.iter().map(|u| u.phone_e164.as_str()).collect();
    let tx = c.transaction().await.db()?;
    let stmt = tx
        .prepare_cached(
            "SELECT sub, phone_e164 FROM users WHERE sub = ANY($1) OR phone_e164 = ANY($2)",
        )
        .await
        .db()?;
    let mut taken_subs = HashSet::new();
    let mut taken_phones = HashSet::new();
    for row in tx.query(&stmt, &[&subs, &phones]).await.db()? {
        taken_subs.insert(get::<i64>(&row, 0)?);
        taken_phones.insert(get::<String>(&row, 1)?);
    }
    if let Some(e) = first_conflict(users, &taken_subs, &taken_phones) {
        tx.rollback().await.db()?;
        return Err(e);
    }
    let opt = |f: fn(&User) -> &Option<String>| -> Vec<Option<&str>> {
        users.iter().map(|u| f(u).as_deref()).collect()
    };
    let countries: Vec<&str> = users.iter().map(|u| u.phone_country.as_str()).collect();
    let verified: Vec<bool> = users.iter().map(|u| u.phone_verified).collect();
    let addresses: Vec<Option<Json<&_>>> =
        users.iter().map(|u| u.address.as_ref().map(Json)).collect();
    let statuses: Vec<&str> = users.iter().map(|u| u.status.as_str()).collect();
    let created: Vec<i64> = users.iter().map(|u| u.created_at).collect();
    // One statement for the whole batch; a user inserted meanwhile by someone else is still
    // caught by the unique constraints.
    let stmt = tx
        .prepare_cached(concat!(
            "INSERT INTO users (",
            user_cols!(),
            ") SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], \
             $11::text[], $12::bigint[])"
        ))
        .await
        .db()?;
    let params: [Param; 12] = [
        &subs,
        &phones,
        &countries,
        &verified,
        &opt(|u| &u.given_name),
        &opt(|u| &u.family_name),
        &opt(|u| &u.email),
        &opt(|u| &u.picture),
        &opt(|u| &u.gender),
        &addresses,
        &statuses,
        &created,
    ];
    match tx.execute(&stmt, &params).await {
        Ok(_) => tx.commit().await.db(),
        Err(e) => match e.as_db_error() {
            // DETAIL names the key, e.g. "Key (phone_e164)=(+91…) already exists."
            Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => {
                Err(StoreError::Conflict(format!(
                    "a user of the batch is already registered: {}",
                    db.detail().unwrap_or(db.message())
                )))
            }
            _ => Err(map_err(e)),
        },
    }
}

pub(super) async fn create_user(c: &Object, u: &User) -> Result<()> {
    let stmt = c
        .prepare_cached(concat!(
            "INSERT INTO users (",
            user_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .await
        .db()?;
    let r = c
        .execute(
            &stmt,
            &[
                &u.sub,
                &u.phone_e164,
                &u.phone_country,
                &u.phone_verified,
                &u.given_name,
                &u.family_name,
                &u.email,
                &u.picture,
                &u.gender,
                &u.address.as_ref().map(Json),
                &u.status.as_str(),
                &u.created_at,
            ],
        )
        .await;
    r.map(drop).map_err(|e| user_conflict(e, u))
}

pub(super) async fn get_user_by_phone(c: &Object, e164: &str) -> Result<Option<User>> {
    let sql = concat!("SELECT ", user_cols!(), " FROM users WHERE phone_e164 = $1");
    query_opt(c, sql, &[&e164], user_from_row).await
}

pub(super) async fn list_users(
    c: &Object,
    after_sub: Option<i64>,
    limit: u32,
) -> Result<Vec<User>> {
    let sql = concat!(
        "SELECT ",
        user_cols!(),
        " FROM users WHERE sub > $1 ORDER BY sub LIMIT $2"
    );
    let after = after_sub.unwrap_or(i64::MIN);
    query_all(c, sql, &[&after, &i64::from(limit)], user_from_row).await
}

pub(super) async fn delete_user(c: &Object, sub: i64) -> Result<bool> {
    Ok(exec(c, "DELETE FROM users WHERE sub = $1", &[&sub]).await? > 0)
}

pub(super) async fn set_user_status(c: &Object, sub: i64, status: UserStatus) -> Result<bool> {
    let sql = "UPDATE users SET status = $1 WHERE sub = $2";
    Ok(exec(c, sql, &[&status.as_str(), &sub]).await? > 0)
}
