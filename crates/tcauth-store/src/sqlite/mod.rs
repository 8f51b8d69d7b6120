//! The embedded SQLite backend.
//!
//! - One writer thread owns the only read-write connection and commits in groups (see
//!   [`writer`]): a write method returns `Ok` only after its batch's `COMMIT` returned, and
//!   with `synchronous=FULL` in WAL mode that commit is durable.
//! - Reads run on a small pool of read-only connections in tokio's blocking pool; WAL lets
//!   them proceed while the writer writes.
//! - The schema is versioned with `PRAGMA user_version`; migrations live in
//!   `migrations/sqlite/NNNN_name.sql` and are embedded in the binary.

mod conn;
mod error;
mod migrations;
mod otp;
mod reader;
mod rows;
mod web;
mod writer;

use self::error::{is_unique_violation, is_unique_violation_on, map_err, SqlResultExt};
use self::reader::Readers;
use self::rows::*;
use self::writer::Writer;
use crate::{
    AccessTokenView, OtpCheck, Redemption, Result, Rotation, Store, StoreError, WithClient,
};
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tcauth_core::model::{
    AccessToken, AttemptOutcome, AuthCode, Branding, CallbackDelivery, Client, IssuedTokens,
    OtpChallenge, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus, VerificationToken,
};
use tcauth_core::secret::TokenHash;

/// Read-only connections in the pool.
const READERS: usize = 4;

/// The SQLite store. Cheap to clone: clones share one writer thread and one read pool. The
/// writer thread stops (after finishing what is queued) when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    // Field order matters on drop: the writer (thread joined) goes first.
    writer: Writer,
    readers: Arc<Readers>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this build migrates databases to.
    pub const SCHEMA_VERSION: u32 = migrations::LATEST;

    /// Opens (creating if missing, file mode 0600 on unix, parent dir created) and migrates
    /// to the latest version.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        conn::create_file(&path)?;
        let mut wconn = conn::open(&path, conn::Role::Writer)?;
        migrations::apply(&mut wconn)?;
        let readers = Readers::open(path.clone(), READERS)?;
        let writer = Writer::spawn(wconn)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
            }),
        })
    }

    /// Applies pending migrations only; returns (version_before, version_after).
    pub fn migrate(path: impl AsRef<Path>) -> Result<(u32, u32)> {
        let path = path.as_ref();
        conn::create_file(path)?;
        let mut c = conn::open(path, conn::Role::Writer)?;
        migrations::apply(&mut c)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.call(f).await
    }

    /// A point lookup, on the caller's thread (see [`reader`]).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.inner.readers.lookup(f)
    }

    /// A read of unbounded size, in the blocking pool.
    async fn scan<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.readers.scan(f).await
    }
}

// --- point lookups (the readers', and the writer's inside its transactions) ----------------

fn lookup_client(c: &Connection, client_id: &str) -> Result<Option<Client>> {
    query_opt(
        c,
        concat!(
            "SELECT ",
            client_cols!(),
            " FROM clients WHERE client_id = ?1"
        ),
        [client_id],
        client_from_row,
    )
}

fn lookup_user(c: &Connection, sub: i64) -> Result<Option<User>> {
    query_opt(
        c,
        concat!("SELECT ", user_cols!(), " FROM users WHERE sub = ?1"),
        [sub],
        user_from_row,
    )
}

fn lookup_code(c: &Connection, hash: &TokenHash) -> Result<Option<AuthCode>> {
    query_opt(
        c,
        concat!("SELECT ", code_cols!(), " FROM auth_codes WHERE hash = ?1"),
        [&hash.0[..]],
        code_from_row,
    )
}

fn lookup_access(c: &Connection, hash: &TokenHash) -> Result<Option<AccessToken>> {
    query_opt(
        c,
        concat!(
            "SELECT ",
            access_cols!(),
            " FROM access_tokens WHERE hash = ?1"
        ),
        [&hash.0[..]],
        access_from_row,
    )
}

fn lookup_refresh(c: &Connection, hash: &TokenHash) -> Result<Option<RefreshToken>> {
    query_opt(
        c,
        concat!(
            "SELECT ",
            refresh_cols!(),
            " FROM refresh_tokens WHERE hash = ?1"
        ),
        [&hash.0[..]],
        refresh_from_row,
    )
}

/// In one snapshot: the client, and a record found by `find` with the user `sub` names.
fn client_and<T>(
    c: &Connection,
    client_id: &str,
    find: impl FnOnce(&Connection) -> Result<Option<T>>,
    sub: impl FnOnce(&T) -> i64,
) -> Result<WithClient<T>> {
    snapshot(c, |c| {
        let client = lookup_client(c, client_id)?;
        let Some(record) = find(c)? else {
            return Ok((client, None));
        };
        let user = lookup_user(c, sub(&record))?;
        Ok((client, Some((record, user))))
    })
}

/// Runs `f` in one read transaction, so that its lookups see one snapshot and take the
/// database's locks once.
fn snapshot<T>(c: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    exec(c, "BEGIN", [])?;
    let r = f(c);
    if !c.is_autocommit() {
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        exec(c, end, [])?;
    }
    r
}

// --- statements used by the writer -----------------------------------------------------------

fn insert_user(conn: &Connection, u: &User) -> Result<()> {
    let r = conn
        .prepare_cached(concat!(
            "INSERT INTO users (",
            user_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))
        .db()?
        .execute(user_params(u)?);
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation_on(&e, "users.sub") => Err(StoreError::Conflict(format!(
            "user sub {} (phone number {}) is already taken",
            u.sub, u.phone_e164
        ))),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "phone number {} is already registered",
            u.phone_e164
        ))),
        Err(e) => Err(map_err(e)),
    }
}

fn insert_code(conn: &Connection, code: &AuthCode) -> Result<()> {
    exec(
        conn,
        concat!(
            "INSERT INTO auth_codes (",
            code_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        code_params(code),
    )?;
    Ok(())
}

fn insert_access(conn: &Connection, t: &AccessToken) -> Result<()> {
    conn.prepare_cached(concat!(
        "INSERT INTO access_tokens (",
        access_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .db()?
    .execute(access_params(t))
    .db()?;
    Ok(())
}

fn insert_refresh(conn: &Connection, t: &RefreshToken) -> Result<()> {
    conn.prepare_cached(concat!(
        "INSERT INTO refresh_tokens (",
        refresh_cols!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .db()?
    .execute(refresh_params(t))
    .db()?;
    Ok(())
}

fn insert_tokens(conn: &Connection, tokens: &IssuedTokens) -> Result<()> {
    insert_access(conn, &tokens.access)?;
    if let Some(r) = &tokens.refresh {
        insert_refresh(conn, r)?;
    }
    Ok(())
}

/// Runs one UPDATE/DELETE and returns how many rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    conn.prepare_cached(sql).db()?.execute(params).db()
}

fn clamp_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    fn announce_write(&self) -> crate::WriteSoon {
        crate::WriteSoon::holding(self.inner.writer.announce())
    }

    async fn ping(&self) -> Result<()> {
        if !self.inner.writer.is_running() {
            return Err(StoreError::Unavailable(
                "the SQLite writer thread has stopped".into(),
            ));
        }
        self.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                .db()
        })
    }

    // --- clients ---------------------------------------------------------------------------

    async fn create_client(&self, client: &Client) -> Result<()> {
        let client = client.clone();
        self.write(move |c| web::insert_client(c, &client)).await
    }

    async fn update_client(&self, client: &Client) -> Result<bool> {
        let client = client.clone();
        self.write(move |c| web::update_client(c, &client)).await
    }

    async fn get_client_by_app_key(&self, app_key: &str) -> Result<Option<Client>> {
        self.read(|c| web::get_client_by_app_key(c, app_key))
    }

    async fn clients_revision(&self) -> Result<(i64, i64)> {
        self.read(web::clients_revision)
    }

    async fn set_client_live(&self, client_id: &str, now_ms: i64) -> Result<bool> {
        let id = client_id.to_string();
        self.write(move |c| web::set_client_live(c, &id, now_ms))
            .await
    }

    async fn put_test_number(&self, test_number: &TestNumber) -> Result<bool> {
        let t = test_number.clone();
        self.write(move |c| web::put_test_number(c, &t)).await
    }

    async fn list_test_numbers(&self, client_id: &str) -> Result<Vec<TestNumber>> {
        self.read(|c| web::list_test_numbers(c, client_id))
    }

    async fn get_test_number(&self, client_id: &str, e164: &str) -> Result<Option<TestNumber>> {
        self.read(|c| web::get_test_number(c, client_id, e164))
    }

    async fn delete_test_number(&self, client_id: &str, e164: &str) -> Result<bool> {
        let (id, e164) = (client_id.to_string(), e164.to_string());
        self.write(move |c| web::delete_test_number(c, &id, &e164))
            .await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>> {
        self.read(|c| lookup_client(c, client_id))
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        self.scan(|c| {
            query_all(
                c,
                concat!(
                    "SELECT ",
                    client_cols!(),
                    " FROM clients ORDER BY created_at, client_id"
                ),
                [],
                client_from_row,
            )
        })
        .await
    }

    async fn set_client_branding(
        &self,
        client_id: &str,
        branding: Option<&Branding>,
    ) -> Result<bool> {
        let id = client_id.to_string();
        let json = match branding {
            Some(b) => Some(
                serde_json::to_string(b)
                    .map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))?,
            ),
            None => None,
        };
        self.write(move |c| {
            Ok(exec(
                c,
                "UPDATE clients SET branding = ?2 WHERE client_id = ?1",
                rusqlite::params![id, json],
            )? > 0)
        })
        .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool> {
        let id = client_id.to_string();
        self.write(move |c| Ok(exec(c, "DELETE FROM clients WHERE client_id = ?1", [id])? > 0))
            .await
    }

    // --- users -----------------------------------------------------------------------------

    async fn create_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.write(move |c| insert_user(c, &user)).await
    }

    async fn import_users(&self, users: &[User]) -> Result<()> {
        let users = users.to_vec();
        // One command, so one savepoint: the first failure undoes every insert.
        self.write(move |c| users.iter().try_for_each(|u| insert_user(c, u)))
            .await
    }

    async fn get_user(&self, sub: i64) -> Result<Option<User>> {
        self.read(|c| lookup_user(c, sub))
    }

    async fn get_user_by_phone(&self, e164: &str) -> Result<Option<User>> {
        let phone = e164.to_string();
        self.read(move |c| {
            query_opt(
                c,
                concat!("SELECT ", user_cols!(), " FROM users WHERE phone_e164 = ?1"),
                [phone],
                user_from_row,
            )
        })
    }

    async fn list_users(&self, after_sub: Option<i64>, limit: u32) -> Result<Vec<User>> {
        let after = after_sub.unwrap_or(i64::MIN);
        self.scan(move |c| {
            query_all(
                c,
                concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE sub > ?1 ORDER BY sub LIMIT ?2"
                ),
                params![after, i64::from(limit)],
                user_from_row,
            )
        })
        .await
    }

    async fn delete_user(&self, sub: i64) -> Result<bool> {
        self.write(move |c| Ok(exec(c, "DELETE FROM users WHERE sub = ?1", [sub])? > 0))
            .await
    }

    async fn set_user_status(&self, sub: i64, status: UserStatus) -> Result<bool> {
        self.write(move |c| {
            let n = exec(
                c,
                "UPDATE users SET status = ?1 WHERE sub = ?2",
                params![status.as_str(), sub],
            )?;
            Ok(n > 0)
        })
        .await
    }

    // --- authorization codes ---------------------------------------------------------------

    async fn insert_code(&self, code: &AuthCode) -> Result<()> {
        let code = code.clone();
        self.write(move |c| insert_code(c, &code)).await
    }

    async fn get_code(&self, hash: &TokenHash) -> Result<Option<AuthCode>> {
        self.read(|c| lookup_code(c, hash))
    }

    async fn burn_code(&self, hash: &TokenHash, now: i64) -> Result<()> {
        let h = *hash;
        self.write(move |c| {
            exec(
                c,
                "UPDATE auth_codes SET consumed_at = ?1 WHERE hash = ?2 AND consumed_at IS NULL",
                params![now, &h.0[..]],
            )?;
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
        let h = *hash;
        let tokens = tokens.clone();
        self.write(move |c| {
            let won = exec(
                c,
                "UPDATE auth_codes SET consumed_at = ?1 \
                 WHERE hash = ?2 AND consumed_at IS NULL AND expires_at > ?1",
                params![now, &h.0[..]],
            )?;
            if won == 1 {
                insert_tokens(c, &tokens)?;
                return Ok(Redemption::Redeemed);
            }
            let consumed: Option<Option<i64>> = query_opt(
                c,
                "SELECT consumed_at FROM auth_codes WHERE hash = ?1",
                [&h.0[..]],
                |r| r.get(0).db(),
            )?;
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
        let (k, code) = (*key, code.cloned());
        // One command, so one savepoint: a code that fails to go in takes the key with it.
        self.write(move |c| {
            let won = exec(
                c,
                "INSERT INTO finished_interactions (hash, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (hash) DO NOTHING",
                params![&k.0[..], expires_at],
            )? == 1;
            if let (true, Some(code)) = (won, &code) {
                insert_code(c, code)?;
            }
            Ok(won)
        })
        .await
    }

    async fn interaction_finished(&self, key: &TokenHash) -> Result<bool> {
        self.read(|c| {
            Ok(query_opt(
                c,
                "SELECT 1 FROM finished_interactions WHERE hash = ?1",
                [&key.0[..]],
                |_| Ok(()),
            )?
            .is_some())
        })
    }

    // --- Mobile Websites callbacks (in `web.rs`) ----------------------------------------------

    async fn finish_web_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        token: Option<&AccessToken>,
        delivery: &CallbackDelivery,
    ) -> Result<bool> {
        let (k, token, d) = (*key, token.cloned(), delivery.clone());
        self.write(move |c| web::finish_web_interaction(c, &k, expires_at, token.as_ref(), &d))
            .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        let limit = clamp_i64(limit);
        self.write(move |c| web::claim_deliveries(c, now_ms, lease_until_ms, limit))
            .await
    }

    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<bool> {
        let (id, outcome) = (id.to_string(), outcome.clone());
        self.write(move |c| web::record_delivery_attempt(c, &id, &outcome))
            .await
    }

    async fn list_deliveries(
        &self,
        client_id: &str,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        let (id, limit) = (client_id.to_string(), clamp_i64(limit));
        self.scan(move |c| web::list_deliveries(c, &id, limit))
            .await
    }

    async fn count_pending_deliveries(&self) -> Result<u64> {
        self.read(web::count_pending_deliveries)
    }

    // --- tokens ----------------------------------------------------------------------------

    async fn get_access_token(&self, hash: &TokenHash) -> Result<Option<AccessToken>> {
        self.read(|c| lookup_access(c, hash))
    }

    async fn get_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>> {
        self.read(|c| lookup_refresh(c, hash))
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Rotation> {
        let h = *old;
        let tokens = tokens.clone();
        self.write(move |c| {
            let won = exec(
                c,
                "UPDATE refresh_tokens SET used_at = ?1 \
                 WHERE hash = ?2 AND used_at IS NULL AND revoked = 0 AND expires_at > ?1",
                params![now, &h.0[..]],
            )?;
            if won == 1 {
                insert_tokens(c, &tokens)?;
                return Ok(Rotation::Rotated);
            }
            let state: Option<(Option<i64>, bool)> = query_opt(
                c,
                "SELECT used_at, revoked FROM refresh_tokens WHERE hash = ?1",
                [&h.0[..]],
                |r| Ok((r.get(0).db()?, r.get(1).db()?)),
            )?;
            Ok(match state {
                Some((used_at, revoked)) if used_at.is_some() || revoked => Rotation::AlreadyUsed,
                _ => Rotation::NotFound,
            })
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        let family = family_id.to_string();
        self.write(move |c| {
            exec(
                c,
                "UPDATE access_tokens SET revoked = 1 WHERE family_id = ?1 AND revoked = 0",
                [&family],
            )?;
            exec(
                c,
                "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1 AND revoked = 0",
                [&family],
            )?;
            Ok(())
        })
        .await
    }

    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool> {
        let h = *hash;
        self.write(move |c| {
            let n = exec(
                c,
                "UPDATE access_tokens SET revoked = 1 WHERE hash = ?1",
                [&h.0[..]],
            )?;
            Ok(n > 0)
        })
        .await
    }

    // --- signing keys ----------------------------------------------------------------------

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.scan(|c| {
            query_all(
                c,
                concat!(
                    "SELECT ",
                    key_cols!(),
                    " FROM signing_keys ORDER BY created_at DESC, rowid DESC"
                ),
                [],
                key_from_row,
            )
        })
        .await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord, keep: usize) -> Result<()> {
        let key = key.clone();
        // The new key always survives, whatever `keep` says.
        let keep = clamp_i64(keep.max(1));
        self.write(move |c| {
            exec(
                c,
                "UPDATE signing_keys SET current = 0 WHERE current <> 0",
                [],
            )?;
            let r = c
                .prepare_cached(concat!(
                    "INSERT INTO signing_keys (",
                    key_cols!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, 1)"
                ))
                .db()?
                .execute(params![
                    key.kid,
                    key.private_key_sealed,
                    key.public_n,
                    key.public_e,
                    key.created_at
                ]);
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation_on(&e, "signing_keys.kid") => {
                    return Err(StoreError::Conflict(format!(
                        "signing key {} already exists",
                        key.kid
                    )))
                }
                Err(e) => return Err(map_err(e)),
            }
            // The new key has the largest rowid, so on a created_at tie it counts as newest.
            exec(
                c,
                "DELETE FROM signing_keys WHERE rowid NOT IN \
                 (SELECT rowid FROM signing_keys \
                  ORDER BY current DESC, created_at DESC, rowid DESC LIMIT ?1)",
                [keep],
            )?;
            Ok(())
        })
        .await
    }

    // --- one-time codes and verification tokens (statements in `otp.rs`) -------------------

    async fn insert_otp(&self, o: &OtpChallenge) -> Result<()> {
        let o = o.clone();
        self.write(move |c| otp::insert_otp(c, &o)).await
    }

    async fn get_otp(&self, id: &str) -> Result<Option<OtpChallenge>> {
        let id = id.to_string();
        self.read(move |c| otp::get_otp(c, &id))
    }

    async fn check_otp(
        &self,
        id: &str,
        binding: &str,
        mac: &[u8; 32],
        now: i64,
    ) -> Result<OtpCheck> {
        let (id, binding, mac) = (id.to_string(), binding.to_string(), *mac);
        self.write(move |c| otp::check_otp(c, &id, &binding, &mac, now))
            .await
    }

    async fn burn_otp(&self, id: &str, now: i64) -> Result<()> {
        let id = id.to_string();
        self.write(move |c| otp::burn_otp(c, &id, now)).await
    }

    async fn insert_verification_token(&self, t: &VerificationToken) -> Result<()> {
        let t = t.clone();
        self.write(move |c| otp::insert_verification_token(c, &t))
            .await
    }

    async fn use_verification_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<Option<VerificationToken>> {
        let (h, client_id) = (*hash, client_id.to_string());
        self.write(move |c| otp::use_verification_token(c, &h, &client_id, now))
            .await
    }

    // --- the hot paths' reads: one read transaction each, one lock round instead of three ------

    async fn get_client_and_code(
        &self,
        client_id: &str,
        code: &TokenHash,
    ) -> Result<WithClient<AuthCode>> {
        self.read(|c| client_and(c, client_id, |c| lookup_code(c, code), |code| code.sub))
    }

    async fn get_client_and_refresh_token(
        &self,
        client_id: &str,
        token: &TokenHash,
    ) -> Result<WithClient<RefreshToken>> {
        self.read(|c| client_and(c, client_id, |c| lookup_refresh(c, token), |rt| rt.sub))
    }

    async fn get_access_token_view(&self, hash: &TokenHash) -> Result<Option<AccessTokenView>> {
        // One statement is one snapshot without a BEGIN and a COMMIT of its own: userinfo's
        // whole read is one step of one prepared statement.
        self.read(|c| {
            query_opt(
                c,
                // access_cols!(), qualified (users has a `sub` too), then user_cols!().
                "SELECT access_tokens.hash, access_tokens.family_id, \
                 access_tokens.client_id, access_tokens.sub, access_tokens.scopes, \
                 access_tokens.issued_at, access_tokens.expires_at, access_tokens.revoked, \
                 EXISTS (SELECT 1 FROM clients WHERE clients.client_id = \
                 access_tokens.client_id), \
                 users.sub, users.phone_e164, users.phone_country, users.phone_verified, \
                 users.given_name, users.family_name, users.email, users.picture, \
                 users.gender, users.address, users.status, users.created_at \
                 FROM access_tokens LEFT JOIN users ON users.sub = access_tokens.sub \
                 WHERE access_tokens.hash = ?1",
                [&hash.0[..]],
                |row| {
                    let user: Option<i64> = row.get(ACCESS_COLS + 1).db()?;
                    Ok(AccessTokenView {
                        token: access_from_row(row)?,
                        client_exists: row.get(ACCESS_COLS).db()?,
                        user: match user {
                            Some(_) => Some(user_at(row, ACCESS_COLS + 1)?),
                            None => None,
                        },
                    })
                },
            )
        })
    }

    // --- maintenance -----------------------------------------------------------------------

    async fn sweep_expired(&self, now: i64, batch: usize) -> Result<u64> {
        if batch == 0 {
            return Ok(0);
        }
        let limit = clamp_i64(batch);
        self.write(move |c| {
            let mut total = 0u64;
            for sql in [
                "DELETE FROM auth_codes WHERE hash IN \
                 (SELECT hash FROM auth_codes WHERE expires_at < ?1 LIMIT ?2)",
                "DELETE FROM access_tokens WHERE hash IN \
                 (SELECT hash FROM access_tokens WHERE expires_at < ?1 LIMIT ?2)",
                "DELETE FROM refresh_tokens WHERE hash IN \
                 (SELECT hash FROM refresh_tokens WHERE expires_at < ?1 LIMIT ?2)",
                otp::SWEEP[0],
                otp::SWEEP[1],
                "DELETE FROM finished_interactions WHERE hash IN \
                 (SELECT hash FROM finished_interactions WHERE expires_at < ?1 LIMIT ?2)",
                // Kept for the delivery log until a day (DELIVERY_LOG_KEEP) past expiry.
                "DELETE FROM callback_deliveries WHERE id IN (SELECT id FROM \
                 callback_deliveries WHERE expires_at < ?1 - 86400 LIMIT ?2)",
            ] {
                total += exec(c, sql, params![now, limit])? as u64;
            }
            Ok(total)
        })
        .await
    }
}
