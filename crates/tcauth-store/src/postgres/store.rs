//! `impl Store for PgStore`: every method takes one pooled connection for its whole work.

use super::error::{is_unique_violation_on, map_err, PgResultExt};
use super::otp;
use super::rows::*;
use super::PgStore;
use crate::{
    AccessTokenView, OtpCheck, Redemption, Result, Rotation, Store, StoreError, WithClient,
};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object};
use std::collections::HashSet;
use tcauth_core::model::{
    AccessToken, AuthCode, Branding, Client, IssuedTokens, OtpChallenge, RefreshToken,
    SigningKeyRecord, User, UserStatus, VerificationToken,
};
use tcauth_core::secret::TokenHash;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;

pub(super) async fn ping(c: &Object) -> Result<()> {
    c.simple_query("SELECT 1").await.db()?;
    Ok(())
}

/// Checks a fresh session: it answers, and commits are durable. `synchronous_commit = off`
/// (set on the server, the database or the role) would let PostgreSQL acknowledge a commit
/// before it is on disk, so a 200 could name a token a crash then loses: warn loudly.
pub(super) async fn check_session(c: &Object) -> Result<()> {
    let row = c.query_one("SHOW synchronous_commit", &[]).await.db()?;
    let setting: &str = get(&row, 0)?;
    if setting == "off" {
        tracing::warn!(
            "PostgreSQL has synchronous_commit = off: a crash of the database may lose tokens \
             tcauth already handed out; set it back to on"
        );
    }
    Ok(())
}

fn clamp_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

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

async fn get_user_on(c: &impl GenericClient, sub: i64) -> Result<Option<User>> {
    let sql = concat!("SELECT ", user_cols!(), " FROM users WHERE sub = $1");
    query_opt(c, sql, &[&sub], user_from_row).await
}

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

async fn import(c: &mut Object, users: &[User]) -> Result<()> {
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

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        self.with_conn(async |c| ping(c).await).await
    }

    // --- clients ---------------------------------------------------------------------------

    async fn create_client(&self, client: &Client) -> Result<()> {
        let (per_second, burst) = rate_columns(client.rate_limit);
        self.with_conn(async |c| {
            let stmt = c
                .prepare_cached(concat!(
                    "INSERT INTO clients (",
                    client_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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
                    ],
                )
                .await;
            match r {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation_on(&e, "clients_pkey") => Err(StoreError::Conflict(
                    format!("client id {} already exists", client.client_id),
                )),
                Err(e) => Err(map_err(e)),
            }
        })
        .await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>> {
        self.with_conn(async |c| {
            let sql = concat!(
                "SELECT ",
                client_cols!(),
                " FROM clients WHERE client_id = $1"
            );
            query_opt(c, sql, &[&client_id], client_from_row).await
        })
        .await
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        self.with_conn(async |c| {
            let sql = concat!(
                "SELECT ",
                client_cols!(),
                " FROM clients ORDER BY created_at, client_id"
            );
            query_all(c, sql, &[], client_from_row).await
        })
        .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool> {
        self.with_conn(async |c| {
            let n = exec(c, "DELETE FROM clients WHERE client_id = $1", &[&client_id]).await?;
            Ok(n > 0)
        })
        .await
    }

    async fn set_client_branding(
        &self,
        client_id: &str,
        branding: Option<&Branding>,
    ) -> Result<bool> {
        self.with_conn(async |c| {
            let sql = "UPDATE clients SET branding = $2 WHERE client_id = $1";
            Ok(exec(c, sql, &[&client_id, &branding.map(Json)]).await? > 0)
        })
        .await
    }

    // --- users -----------------------------------------------------------------------------

    async fn create_user(&self, u: &User) -> Result<()> {
        self.with_conn(async |c| {
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
        })
        .await
    }

    async fn import_users(&self, users: &[User]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        self.with_conn(async |c| import(c, users).await).await
    }

    async fn get_user(&self, sub: i64) -> Result<Option<User>> {
        self.with_conn(async |c| get_user_on(&*c, sub).await).await
    }

    async fn get_user_by_phone(&self, e164: &str) -> Result<Option<User>> {
        self.with_conn(async |c| {
            let sql = concat!("SELECT ", user_cols!(), " FROM users WHERE phone_e164 = $1");
            query_opt(c, sql, &[&e164], user_from_row).await
        })
        .await
    }

    async fn delete_user(&self, sub: i64) -> Result<bool> {
        self.with_conn(
            async |c| Ok(exec(c, "DELETE FROM users WHERE sub = $1", &[&sub]).await? > 0),
        )
        .await
    }

    async fn set_user_status(&self, sub: i64, status: UserStatus) -> Result<bool> {
        self.with_conn(async |c| {
            let sql = "UPDATE users SET status = $1 WHERE sub = $2";
            Ok(exec(c, sql, &[&status.as_str(), &sub]).await? > 0)
        })
        .await
    }

    // --- authorization codes ---------------------------------------------------------------

    async fn insert_code(&self, code: &AuthCode) -> Result<()> {
        self.with_conn(async |c| {
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
        })
        .await
    }

    async fn get_code(&self, hash: &TokenHash) -> Result<Option<AuthCode>> {
        self.with_conn(async |c| {
            let sql = concat!("SELECT ", code_cols!(), " FROM auth_codes WHERE hash = $1");
            query_opt(c, sql, &[&&hash.0[..]], code_from_row).await
        })
        .await
    }

    async fn burn_code(&self, hash: &TokenHash, now: i64) -> Result<()> {
        self.with_conn(async |c| {
            let sql =
                "UPDATE auth_codes SET consumed_at = $1 WHERE hash = $2 AND consumed_at IS NULL";
            exec(c, sql, &[&now, &&hash.0[..]]).await?;
            Ok(())
        })
        .await
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Redemption> {
        self.with_conn(async |c| {
            // One statement: the conditional UPDATE and the inserts commit together or not
            // at all, and a concurrent redemption waits on the row lock, then finds the code
            // consumed.
            let update = "UPDATE auth_codes SET consumed_at = $1 \
                          WHERE hash = $2 AND consumed_at IS NULL AND expires_at > $1";
            if consume(&*c, update, now, hash, tokens).await? {
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
        })
        .await
    }

    // --- finished sign-ins -----------------------------------------------------------------

    async fn finish_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        code: Option<&AuthCode>,
    ) -> Result<bool> {
        self.with_conn(async |c| {
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
        })
        .await
    }

    async fn interaction_finished(&self, key: &TokenHash) -> Result<bool> {
        self.with_conn(async |c| {
            let sql = "SELECT 1 FROM finished_interactions WHERE hash = $1";
            Ok(query_opt(c, sql, &[&&key.0[..]], |_| Ok(()))
                .await?
                .is_some())
        })
        .await
    }

    // --- tokens ----------------------------------------------------------------------------

    async fn get_access_token(&self, hash: &TokenHash) -> Result<Option<AccessToken>> {
        self.with_conn(async |c| {
            let sql = concat!(
                "SELECT ",
                access_cols!(),
                " FROM access_tokens WHERE hash = $1"
            );
            query_opt(c, sql, &[&&hash.0[..]], access_from_row).await
        })
        .await
    }

    async fn get_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>> {
        self.with_conn(async |c| {
            let sql = concat!(
                "SELECT ",
                refresh_cols!(),
                " FROM refresh_tokens WHERE hash = $1"
            );
            query_opt(c, sql, &[&&hash.0[..]], refresh_from_row).await
        })
        .await
    }

    // The grants' and userinfo's reads: three statements on one connection, sent together
    // (tokio-postgres pipelines them), so one round trip instead of three checkouts and three.
    // Each statement has a snapshot of its own (READ COMMITTED), as three calls would.

    async fn get_client_and_code(
        &self,
        client_id: &str,
        code: &TokenHash,
    ) -> Result<WithClient<AuthCode>> {
        self.with_conn(async |c| {
            read_with_client(
                &*c,
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
        })
        .await
    }

    async fn get_client_and_refresh_token(
        &self,
        client_id: &str,
        token: &TokenHash,
    ) -> Result<WithClient<RefreshToken>> {
        self.with_conn(async |c| {
            read_with_client(
                &*c,
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
        })
        .await
    }

    async fn get_access_token_view(&self, hash: &TokenHash) -> Result<Option<AccessTokenView>> {
        self.with_conn(async |c| {
            let c = &*c;
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
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Rotation> {
        self.with_conn(async |c| {
            // One statement, as for a code.
            let update = "UPDATE refresh_tokens SET used_at = $1 \
                          WHERE hash = $2 AND used_at IS NULL AND NOT revoked AND expires_at > $1";
            if consume(&*c, update, now, old, tokens).await? {
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
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        self.with_conn(async |c| {
            let tx = c.transaction().await.db()?;
            for sql in [
                "UPDATE access_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked",
                "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1 AND NOT revoked",
            ] {
                exec(&tx, sql, &[&family_id]).await?;
            }
            tx.commit().await.db()
        })
        .await
    }

    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool> {
        self.with_conn(async |c| {
            let sql = "UPDATE access_tokens SET revoked = TRUE WHERE hash = $1";
            Ok(exec(c, sql, &[&&hash.0[..]]).await? > 0)
        })
        .await
    }

    // --- signing keys ----------------------------------------------------------------------

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.with_conn(async |c| {
            let sql = concat!(
                "SELECT ",
                key_cols!(),
                " FROM signing_keys ORDER BY created_at DESC, seq DESC"
            );
            query_all(c, sql, &[], key_from_row).await
        })
        .await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord, keep: usize) -> Result<()> {
        // The new key always survives, whatever `keep` says.
        let keep = clamp_i64(keep.max(1));
        self.with_conn(async |c| {
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
        })
        .await
    }

    // --- one-time codes and verification tokens (statements in `otp.rs`) -------------------

    async fn insert_otp(&self, o: &OtpChallenge) -> Result<()> {
        self.with_conn(async |c| otp::insert_otp(c, o).await).await
    }

    async fn get_otp(&self, id: &str) -> Result<Option<OtpChallenge>> {
        self.with_conn(async |c| otp::get_otp(c, id).await).await
    }

    async fn check_otp(
        &self,
        id: &str,
        binding: &str,
        mac: &[u8; 32],
        now: i64,
    ) -> Result<OtpCheck> {
        self.with_conn(async |c| otp::check_otp(c, id, binding, mac, now).await)
            .await
    }

    async fn burn_otp(&self, id: &str, now: i64) -> Result<()> {
        self.with_conn(async |c| otp::burn_otp(c, id, now).await)
            .await
    }

    async fn insert_verification_token(&self, t: &VerificationToken) -> Result<()> {
        self.with_conn(async |c| otp::insert_verification_token(c, t).await)
            .await
    }

    async fn use_verification_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<Option<VerificationToken>> {
        self.with_conn(async |c| otp::use_verification_token(c, hash, client_id, now).await)
            .await
    }

    // --- maintenance -----------------------------------------------------------------------

    async fn sweep_expired(&self, now: i64, batch: usize) -> Result<u64> {
        if batch == 0 {
            return Ok(0);
        }
        let limit = clamp_i64(batch);
        self.with_conn(async |c| {
            let tx = c.transaction().await.db()?;
            let mut total = 0u64;
            for sql in [
                "DELETE FROM auth_codes WHERE hash IN (SELECT hash FROM auth_codes \
                 WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                "DELETE FROM access_tokens WHERE hash IN (SELECT hash FROM access_tokens \
                 WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens \
                 WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                otp::SWEEP[0],
                otp::SWEEP[1],
                "DELETE FROM finished_interactions WHERE hash IN (SELECT hash FROM \
                 finished_interactions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            ] {
                total += exec(&tx, sql, &[&now, &limit]).await?;
            }
            tx.commit().await.db()?;
            Ok(total)
        })
        .await
    }
}
