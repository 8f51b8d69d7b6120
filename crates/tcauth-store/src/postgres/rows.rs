//! Column lists, and conversions from rows to records. Decoding never panics: a value that
//! does not decode is `StoreError::Internal`, naming the column.

use super::error::{describe, PgResultExt};
use crate::StoreError;
use deadpool_postgres::GenericClient;
use tcauth_core::model::{
    AccessToken, Address, AuthCode, Branding, CallbackDelivery, Client, ClientMode, DeliveryStatus,
    GrantType, RateLimit, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus,
};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::TokenHash;
use tokio_postgres::types::{FromSql, Json, ToSql};
use tokio_postgres::Row;

pub(crate) use crate::columns::{
    access_cols, client_cols, code_cols, delivery_cols, key_cols, refresh_cols, test_number_cols,
    user_cols,
};

pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in the database: {detail}"))
}

fn column_name(row: &Row, idx: usize) -> &str {
    row.columns().get(idx).map_or("?", |c| c.name())
}

/// Column `idx`, decoded; a NULL where none may be, a wrong type or bad JSON is `Internal`.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| {
        corrupt(
            &format!("value in column {}", column_name(row, idx)),
            describe(&e),
        )
    })
}

fn json<'a, T>(row: &'a Row, idx: usize) -> Result<T, StoreError>
where
    Json<T>: FromSql<'a>,
{
    get::<Json<T>>(row, idx).map(|j| j.0)
}

fn opt_json<'a, T>(row: &'a Row, idx: usize) -> Result<Option<T>, StoreError>
where
    Json<T>: FromSql<'a>,
{
    get::<Option<Json<T>>>(row, idx).map(|j| j.map(|j| j.0))
}

fn scopes(row: &Row, idx: usize) -> Result<ScopeSet, StoreError> {
    let s: &str = get(row, idx)?;
    ScopeSet::parse(s)
        .map_err(|e| corrupt(&format!("scopes in column {}", column_name(row, idx)), e))
}

fn hash(row: &Row, idx: usize) -> Result<TokenHash, StoreError> {
    let b: &[u8] = get(row, idx)?;
    TokenHash::from_slice(b).ok_or_else(|| corrupt("hash", format!("{} bytes", b.len())))
}

/// A count as a bigint parameter (a `LIMIT`), saturating.
pub(crate) fn clamp_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The database form of a rate limit: both columns or neither.
pub(crate) fn rate_columns(r: Option<RateLimit>) -> (Option<i64>, Option<i64>) {
    match r {
        Some(r) => (Some(i64::from(r.per_second)), Some(i64::from(r.burst))),
        None => (None, None),
    }
}

pub(crate) fn client_from_row(row: &Row) -> Result<Client, StoreError> {
    let per_second: Option<i64> = get(row, 5)?;
    let burst: Option<i64> = get(row, 6)?;
    let rate_limit = match (per_second, burst) {
        (None, None) => None,
        (Some(p), Some(b)) => Some(RateLimit {
            per_second: u32::try_from(p).map_err(|_| corrupt("client rate limit", p))?,
            burst: u32::try_from(b).map_err(|_| corrupt("client rate limit", b))?,
        }),
        _ => return Err(corrupt("client rate limit", "only half of it is set")),
    };
    Ok(Client {
        client_id: get(row, 0)?,
        name: get(row, 1)?,
        redirect_uris: json::<Vec<String>>(row, 2)?,
        scopes: scopes(row, 3)?,
        grant_types: json::<Vec<GrantType>>(row, 4)?,
        rate_limit,
        created_at: get(row, 7)?,
        branding: opt_json::<Branding>(row, 8)?,
        app_key: get(row, 9)?,
        callback_url: get(row, 10)?,
        callback_salt: get(row, 11)?,
        package_name: get(row, 12)?,
        updated_at_ms: get(row, 13)?,
        mode: {
            let m: &str = get(row, 14)?;
            ClientMode::parse(m).ok_or_else(|| corrupt("client mode", m))?
        },
    })
}

pub(crate) fn test_number_from_row(row: &Row) -> Result<TestNumber, StoreError> {
    Ok(TestNumber {
        client_id: get(row, 0)?,
        phone_e164: get(row, 1)?,
        otp: get(row, 2)?,
        created_at: get(row, 3)?,
    })
}

pub(crate) fn delivery_from_row(row: &Row) -> Result<CallbackDelivery, StoreError> {
    let status: &str = get(row, 5)?;
    let attempts: i32 = get(row, 6)?;
    Ok(CallbackDelivery {
        id: get(row, 0)?,
        client_id: get(row, 1)?,
        request_id: get(row, 2)?,
        url: get(row, 3)?,
        body_sealed: get(row, 4)?,
        status: DeliveryStatus::parse(status).ok_or_else(|| corrupt("delivery status", status))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("delivery attempts", attempts))?,
        last_error: get(row, 7)?,
        next_attempt_at_ms: get(row, 8)?,
        expires_at: get(row, 9)?,
        created_at: get(row, 10)?,
        delivered_at: get(row, 11)?,
    })
}

pub(crate) fn user_from_row(row: &Row) -> Result<User, StoreError> {
    let status: &str = get(row, 10)?;
    Ok(User {
        sub: get(row, 0)?,
        phone_e164: get(row, 1)?,
        phone_country: get(row, 2)?,
        phone_verified: get(row, 3)?,
        given_name: get(row, 4)?,
        family_name: get(row, 5)?,
        email: get(row, 6)?,
        picture: get(row, 7)?,
        gender: get(row, 8)?,
        address: opt_json::<Address>(row, 9)?,
        status: UserStatus::parse(status).ok_or_else(|| corrupt("user status", status))?,
        created_at: get(row, 11)?,
    })
}

pub(crate) fn code_from_row(row: &Row) -> Result<AuthCode, StoreError> {
    Ok(AuthCode {
        hash: hash(row, 0)?,
        family_id: get(row, 1)?,
        client_id: get(row, 2)?,
        sub: get(row, 3)?,
        scopes: scopes(row, 4)?,
        code_challenge: get(row, 5)?,
        redirect_uri: get(row, 6)?,
        nonce: get(row, 7)?,
        auth_time: get(row, 8)?,
        expires_at: get(row, 9)?,
        consumed_at: get(row, 10)?,
    })
}

pub(crate) fn access_from_row(row: &Row) -> Result<AccessToken, StoreError> {
    Ok(AccessToken {
        hash: hash(row, 0)?,
        family_id: get(row, 1)?,
        client_id: get(row, 2)?,
        sub: get(row, 3)?,
        scopes: scopes(row, 4)?,
        issued_at: get(row, 5)?,
        expires_at: get(row, 6)?,
        revoked: get(row, 7)?,
    })
}

pub(crate) fn refresh_from_row(row: &Row) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        hash: hash(row, 0)?,
        family_id: get(row, 1)?,
        client_id: get(row, 2)?,
        sub: get(row, 3)?,
        scopes: scopes(row, 4)?,
        auth_time: get(row, 5)?,
        issued_at: get(row, 6)?,
        expires_at: get(row, 7)?,
        used_at: get(row, 8)?,
        revoked: get(row, 9)?,
    })
}

pub(crate) fn key_from_row(row: &Row) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: get(row, 0)?,
        private_key_sealed: get(row, 1)?,
        public_n: get(row, 2)?,
        public_e: get(row, 3)?,
        created_at: get(row, 4)?,
        current: get(row, 5)?,
    })
}

// --- query helpers (prepared statements cached per connection) -------------------------------

/// Runs one statement and returns how many rows it changed.
pub(crate) async fn exec(
    c: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached(sql).await.db()?;
    c.execute(&stmt, params).await.db()
}

/// The first row `sql` returns, decoded, or `None`.
pub(crate) async fn query_opt<T>(
    c: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let stmt = c.prepare_cached(sql).await.db()?;
    match c.query_opt(&stmt, params).await.db()? {
        Some(row) => decode(&row).map(Some),
        None => Ok(None),
    }
}

/// Every row `sql` returns, decoded.
pub(crate) async fn query_all<T>(
    c: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let stmt = c.prepare_cached(sql).await.db()?;
    c.query(&stmt, params)
        .await
        .db()?
        .iter()
        .map(decode)
        .collect()
}
