//! Authorization codes, finished sign-ins and tokens: the statements behind `impl Store for
//! PgStore`'s methods for them (`store.rs`). The single-use operations (redeeming a code,
//! rotating a refresh token) share [`consume`]; the grants' and userinfo's combined reads
//! share [`read_with_client`].

use super::error::PgResultExt;
use super::rows::*;
use super::users::get_user_on;
use crate::{AccessTokenView, Redemption, Result, Rotation, StoreError, WithClient};
use deadpool_postgres::{GenericClient, Object};
use tcauth_core::model::{AccessToken, AuthCode, IssuedTokens, RefreshToken};
use tcauth_core::secret::TokenHash;

/// A grant's read: the client, the code or token under `key` (`item_sql`), and its user
/// (`user_sql`, which finds the sub through the same key), sent together on one connection.
async fn read_with_client<T: Send>(
    c: &impl GenericClient,
    client_id: &str,
    key: &TokenHash,
    item_sql: &str,
    user_sql: &str,
    decode: fn(&tokio_postgres::Row) -> Result<T>,
    sub_of: fn(&T) -> i64,
) -> Result<WithClient<T>> {
    let key: &[u8] = &key.0[..];
    let (p_client, p_key): ([Param<'_>; 1], [Param<'_>; 1]) = ([&client_id], [&key]);
    let (client, item, user) = tokio::try_join!(
        query_opt(
            c,
            concat!(
                "SELECT ",
                client_cols!(),
                " FROM clients WHERE client_id = $1"
            ),
            &p_client,
            client_from_row,
        ),
        query_opt(c, item_sql, &p_key, decode),
        query_opt(c, user_sql, &p_key, user_from_row),
    )?;
    // The user is the item's: read again by sub if the item changed in between.
    let user = match (&item, user) {
        (Some(item), Some(u)) if u.sub == sub_of(item) => Some(u),
        (Some(item), _) => get_user_on(c, sub_of(item)).await?,
        (None, _) => None,
    };
    Ok((client, item.map(|item| (item, user))))
}

/// Statements that consume a code or a refresh token (`$1` the time, `$2` its key; the
/// condition is the caller's) and, in the same statement, insert the new tokens from `$3` on,
/// only if it was consumed: one round trip, one implicit transaction. The statement returns
/// how many rows were consumed (0 or 1).
fn consume_and_insert(update: &str, with_refresh: bool) -> String {
    let mut sql = format!(
        "WITH won AS ({update} RETURNING 1), \
         access AS (INSERT INTO access_tokens ({}) SELECT $3::bytea, $4::text, $5::text, \
         $6::bigint, $7::text, $8::bigint, $9::bigint, $10::boolean FROM won)",
        access_cols!()
    );
    if with_refresh {
        sql.push_str(&format!(
            ", refresh AS (INSERT INTO refresh_tokens ({}) SELECT $11::bytea, $12::text, \
             $13::text, $14::bigint, $15::text, $16::bigint, $17::bigint, $18::bigint, \
             $19::bigint, $20::boolean FROM won)",
            refresh_cols!()
        ));
    }
    sql.push_str(" SELECT count(*) FROM won");
    sql
}

/// Runs a [`consume_and_insert`] statement; returns whether it consumed the row.
async fn consume(
    c: &impl GenericClient,
    update: &str,
    now: i64,
    key: &TokenHash,
    tokens: &IssuedTokens,
) -> Result<bool> {
    let sql = consume_and_insert(update, tokens.refresh.is_some());
    let key: &[u8] = &key.0[..];
    let a = &tokens.access;
    let a_hash: &[u8] = &a.hash.0[..];
    let a_scopes = a.scopes.to_string();
    let mut params: Vec<Param<'_>> = vec![
        &now,
        &key,
        &a_hash,
        &a.family_id,
        &a.client_id,
        &a.sub,
        &a_scopes,
        &a.issued_at,
        &a.expires_at,
        &a.revoked,
    ];
    let refresh = tokens
        .refresh
        .as_ref()
        .map(|r| (r, &r.hash.0[..], r.scopes.to_string()));
    if let Some((r, r_hash, r_scopes)) = &refresh {
        params.extend_from_slice(&[
            r_hash as Param<'_>,
            &r.family_id,
            &r.client_id,
            &r.sub,
            r_scopes,
            &r.auth_time,
            &r.issued_at,
            &r.expires_at,
            &r.used_at,
            &r.revoked,
        ]);
    }
    let stmt = c.prepare_cached(&sql).await.db()?;
    let row = c.query_one(&stmt, &params).await.db()?;
    let consumed: i64 = get(&row, 0)?;
    Ok(consumed == 1)
}

pub(super) async fn insert_code(c: &Object, code: &AuthCode) -> Result<()> {
    let sql = concat!(
        "INSERT INTO auth_codes (",
        code_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    exec(
        c,
        sql,
        &[
            &&code.hash.0[..],
            &code.family_id,
            &code.client_id,
            &code.sub,
            &code.scopes.to_string(),
            &code.code_challenge,
            &code.redirect_uri,
            &code.nonce,
            &code.auth_time,
            &code.expires_at,
            &code.consumed_at,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn get_code(c: &Object, hash: &TokenHash) -> Result<Option<AuthCode>> {
    let sql = concat!("SELECT ", code_cols!(), " FROM auth_codes WHERE hash = $1");
    query_opt(c, sql, &[&&hash.0[..]], code_from_row).await
}

pub(super) async fn burn_code(c: &Object, hash: &TokenHash, now: i64) -> Result<()> {
    let sql = "UPDATE auth_codes SET consumed_at = $1 WHERE hash = $2 AND consumed_at IS NULL";
    exec(c, sql, &[&now, &&hash.0[..]]).await?;
    Ok(())
}

pub(super) async fn redeem_code(
    c: &Object,
    hash: &TokenHash,
    now: i64,
    tokens: &IssuedTokens,
) -> Result<Redemption> {
    // One statement: the conditional UPDATE and the inserts commit together or not
    // at all, and a concurrent redemption waits on the row lock, then finds the code
    // consumed.
    let update = "UPDATE auth_codes SET consumed_at = $1 \
                  WHERE hash = $2 AND consumed_at IS NULL AND expires_at > $1";
    if consume(c, update, now, hash, tokens).await? {
        return Ok(Redemption::Redeemed);
    }
    // READ COMMITTED: this statement sees the winner's commit.
    let stmt = c
        .prepare_cached("SELECT consumed_at FROM auth_codes WHERE hash = $1")
        .await
        .db()?;
    let row = c.query_opt(&stmt, &[&&hash.0[..]]).await.db()?;
    let consumed: Option<Option<i64>> = row.map(|r| get(&r, 0)).transpose()?;
    Ok(match consumed {
        Some(Some(_)) => Redemption::AlreadyConsumed,
        _ => Redemption::NotFound,
    })
}

pub(super) async fn finish_interaction(
    c: &Object,
    key: &TokenHash,
    expires_at: i64,
    code: Option<&AuthCode>,
) -> Result<bool> {
    // One statement, one implicit transaction: the key and the code commit together
    // or not at all. A concurrent call with the same key waits for this one's commit,
    // then conflicts and does nothing.
    let key: &[u8] = &key.0[..];
    let Some(code) = code else {
        let sql = "INSERT INTO finished_interactions (hash, expires_at) VALUES ($1, $2) \
                   ON CONFLICT (hash) DO NOTHING";
        return Ok(exec(c, sql, &[&key, &expires_at]).await? == 1);
    };
    let sql = concat!(
        "WITH won AS (INSERT INTO finished_interactions (hash, expires_at) \
         VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING RETURNING 1), \
         code AS (INSERT INTO auth_codes (",
        code_cols!(),
        ") SELECT $3::bytea, $4::text, $5::text, $6::bigint, $7::text, $8::text, \
         $9::text, $10::text, $11::bigint, $12::bigint, $13::bigint FROM won) \
         SELECT count(*) FROM won"
    );
    let hash: &[u8] = &code.hash.0[..];
    let scopes = code.scopes.to_string();
    let params: [Param<'_>; 13] = [
        &key,
        &expires_at,
        &hash,
        &code.family_id,
        &code.client_id,
        &code.sub,
        &scopes,
        &code.code_challenge,
        &code.redirect_uri,
        &code.nonce,
        &code.auth_time,
        &code.expires_at,
        &code.consumed_at,
    ];
    let stmt = c.prepare_cached(sql).await.db()?;
    let row = c.query_one(&stmt, &params).await.db()?;
    let won: i64 = get(&row, 0)?;
    Ok(won == 1)
}

pub(super) async fn interaction_finished(c: &Object, key: &TokenHash) -> Result<bool> {
    let sql = "SELECT 1 FROM finished_interactions WHERE hash = $1";
    Ok(query_opt(c, sql, &[&&key.0[..]], |_| Ok(()))
        .await?
        .is_some())
}

pub(super) async fn get_access_token(c: &Object, hash: &TokenHash) -> Result<Option<AccessToken>> {
    let sql = concat!(
        "SELECT ",
        access_cols!(),
        " FROM access_tokens WHERE hash = $1"
    );
    query_opt(c, sql, &[&&hash.0[..]], access_from_row).await
}

pub(super) async fn get_refresh_token(
    c: &Object,
    hash: &TokenHash,
) -> Result<Option<RefreshToken>> {
    let sql = concat!(
        "SELECT ",
        refresh_cols!(),
        " FROM refresh_tokens WHERE hash = $1"
    );
    query_opt(c, sql, &[&&hash.0[..]], refresh_from_row).await
}

// The grants' and userinfo's reads: three statements on one connection, sent together
// (tokio-postgres pipelines them), so one round trip instead of three checkouts and three.
// Each statement has a snapshot of its own (READ COMMITTED), as three calls would.

pub(super) async fn get_client_and_code(
    c: &Object,
    client_id: &str,
    code: &TokenHash,
) -> Result<WithClient<AuthCode>> {
    read_with_client(
        c,
        client_id,
        code,
        concat!("SELECT ", code_cols!(), " FROM auth_codes WHERE hash = $1"),
        concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE sub = (SELECT sub FROM auth_codes WHERE hash = $1)"
        ),
        code_from_row,
        |code| code.sub,
    )
    .await
}

pub(super) async fn get_client_and_refresh_token(
    c: &Object,
    client_id: &str,
    token: &TokenHash,
) -> Result<WithClient<RefreshToken>> {
    read_with_client(
        c,
        client_id,
        token,
        concat!(
            "SELECT ",
            refresh_cols!(),
            " FROM refresh_tokens WHERE hash = $1"
        ),
        concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE sub = (SELECT sub FROM refresh_tokens WHERE hash = $1)"
        ),
        refresh_from_row,
        |t| t.sub,
    )
    .await
}

pub(super) async fn get_access_token_view(
    c: &Object,
    hash: &TokenHash,
) -> Result<Option<AccessTokenView>> {
    let key: &[u8] = &hash.0[..];
    let p_key: [Param<'_>; 1] = [&key];
    let (token, client_exists, user) = tokio::try_join!(
        query_opt(
            c,
            concat!(
                "SELECT ",
                access_cols!(),
                " FROM access_tokens WHERE hash = $1"
            ),
            &p_key,
            access_from_row,
        ),
        query_opt(
            c,
            "SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = \
             (SELECT client_id FROM access_tokens WHERE hash = $1))",
            &p_key,
            |row| get::<bool>(row, 0),
        ),
        query_opt(
            c,
            concat!(
                "SELECT ",
                user_cols!(),
                " FROM users WHERE sub = (SELECT sub FROM access_tokens WHERE hash = $1)"
            ),
            &p_key,
            user_from_row,
        ),
    )?;
    let Some(token) = token else {
        return Ok(None);
    };
    // A token's client and sub never change; only the rows they name may go.
    Ok(Some(AccessTokenView {
        token,
        client_exists: client_exists.unwrap_or(false),
        user,
    }))
}

pub(super) async fn rotate_refresh_token(
    c: &Object,
    old: &TokenHash,
    now: i64,
    tokens: &IssuedTokens,
) -> Result<Rotation> {
    // One statement, as for a code.
    let update = "UPDATE refresh_tokens SET used_at = $1 \
                  WHERE hash = $2 AND used_at IS NULL AND NOT revoked AND expires_at > $1";
    if consume(c, update, now, old, tokens).await? {
        return Ok(Rotation::Rotated);
    }
    let stmt = c
        .prepare_cached("SELECT used_at, revoked FROM refresh_tokens WHERE hash = $1")
        .await
        .db()?;
    let row = c.query_opt(&stmt, &[&&old.0[..]]).await.db()?;
    let state: Option<(Option<i64>, bool)> = row
        .map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?)))
        .transpose()?;
    Ok(match state {
        Some((used_at, revoked)) if used_at.is_some() || revoked => Rotation::AlreadyUsed,
        _ => Rotation::NotFound,
    })
}

pub(super) async fn revoke_family(c: &mut Object, family_id: &str) -> Result<()> {
    let tx = c.transaction().await.db()?;
    for sql in [
        "UPDATE access_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked",
        "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked",
    ] {
        exec(&tx, sql, &[&family_id]).await?;
    }
    tx.commit().await.db()
}

pub(super) async fn revoke_access_token(c: &Object, hash: &TokenHash) -> Result<bool> {
    let sql = "UPDATE access_tokens SET revoked = TRUE WHERE hash = $1";
    Ok(exec(c, sql, &[&&hash.0[..]]).await? > 0)
}
