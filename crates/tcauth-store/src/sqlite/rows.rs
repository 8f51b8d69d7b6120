//! Column lists, and conversions between records and rows. Decoding never panics: a value
//! that does not decode is `StoreError::Internal`.

use super::error::SqlResultExt;
use crate::StoreError;
use rusqlite::types::Value;
use rusqlite::{Connection, Params, Row};
use tcauth_core::model::{
    AccessToken, Address, AuthCode, CallbackDelivery, Client, ClientMode, DeliveryStatus,
    RateLimit, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus,
};
use tcauth_core::scope::ScopeSet;
use tcauth_core::secret::TokenHash;

pub(crate) use crate::columns::{
    access_cols, client_cols, code_cols, delivery_cols, key_cols, refresh_cols, test_number_cols,
    user_cols,
};

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in the database: {detail}"))
}

fn scopes(row: &Row, idx: usize, what: &str) -> Result<ScopeSet, StoreError> {
    let s: String = row.get(idx).db()?;
    ScopeSet::parse(&s).map_err(|e| corrupt(what, e))
}

fn hash(row: &Row, idx: usize, what: &str) -> Result<TokenHash, StoreError> {
    let b: Vec<u8> = row.get(idx).db()?;
    TokenHash::from_slice(&b).ok_or_else(|| corrupt(what, format!("hash of {} bytes", b.len())))
}

/// Decodes a JSON column (`serde_json` spelled out at each use: this crate does not depend on
/// `serde` itself).
macro_rules! json_column {
    ($row:expr, $idx:expr, $what:expr) => {{
        let s: String = $row.get($idx).db()?;
        serde_json::from_str(&s).map_err(|e| corrupt($what, e))
    }};
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("cannot encode JSON: {e}"))
}

pub(crate) fn hash_value(h: &TokenHash) -> Value {
    Value::Blob(h.0.to_vec())
}

// --- clients ---------------------------------------------------------------------------------

pub(crate) fn client_params(c: &Client) -> Result<[Value; 15], StoreError> {
    let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let (per_second, burst) = match c.rate_limit {
        Some(r) => (
            Value::Integer(i64::from(r.per_second)),
            Value::Integer(i64::from(r.burst)),
        ),
        None => (Value::Null, Value::Null),
    };
    Ok([
        Value::Text(c.client_id.clone()),
        Value::Text(c.name.clone()),
        Value::Text(serde_json::to_string(&c.redirect_uris).map_err(json_err)?),
        Value::Text(c.scopes.to_string()),
        Value::Text(serde_json::to_string(&c.grant_types).map_err(json_err)?),
        per_second,
        burst,
        Value::Integer(c.created_at),
        match &c.branding {
            Some(b) => Value::Text(serde_json::to_string(b).map_err(json_err)?),
            None => Value::Null,
        },
        Value::Text(c.app_key.clone()),
        opt(&c.callback_url),
        opt(&c.callback_salt),
        opt(&c.package_name),
        Value::Integer(c.updated_at_ms),
        Value::Text(c.mode.as_str().to_string()),
    ])
}

pub(crate) fn client_from_row(row: &Row) -> Result<Client, StoreError> {
    let per_second: Option<i64> = row.get(5).db()?;
    let burst: Option<i64> = row.get(6).db()?;
    let rate_limit = match (per_second, burst) {
        (None, None) => None,
        (Some(p), Some(b)) => Some(RateLimit {
            per_second: u32::try_from(p).map_err(|_| corrupt("client rate limit", p))?,
            burst: u32::try_from(b).map_err(|_| corrupt("client rate limit", b))?,
        }),
        _ => return Err(corrupt("client rate limit", "only half of it is set")),
    };
    Ok(Client {
        client_id: row.get(0).db()?,
        name: row.get(1).db()?,
        redirect_uris: json_column!(row, 2, "client redirect_uris")?,
        scopes: scopes(row, 3, "client scopes")?,
        grant_types: json_column!(row, 4, "client grant_types")?,
        rate_limit,
        created_at: row.get(7).db()?,
        branding: {
            let b: Option<String> = row.get(8).db()?;
            match b {
                Some(s) => {
                    Some(serde_json::from_str(&s).map_err(|e| corrupt("client branding", e))?)
                }
                None => None,
            }
        },
        app_key: row.get(9).db()?,
        callback_url: row.get(10).db()?,
        callback_salt: row.get(11).db()?,
        package_name: row.get(12).db()?,
        updated_at_ms: row.get(13).db()?,
        mode: {
            let m: String = row.get(14).db()?;
            ClientMode::parse(&m).ok_or_else(|| corrupt("client mode", m))?
        },
    })
}

pub(crate) fn test_number_from_row(row: &Row) -> Result<TestNumber, StoreError> {
    Ok(TestNumber {
        client_id: row.get(0).db()?,
        phone_e164: row.get(1).db()?,
        otp: row.get(2).db()?,
        created_at: row.get(3).db()?,
    })
}

// --- callback deliveries ---------------------------------------------------------------------

pub(crate) fn delivery_params(d: &CallbackDelivery) -> [Value; 12] {
    [
        Value::Text(d.id.clone()),
        Value::Text(d.client_id.clone()),
        Value::Text(d.request_id.clone()),
        Value::Text(d.url.clone()),
        Value::Blob(d.body_sealed.clone()),
        Value::Text(d.status.as_str().to_string()),
        Value::Integer(i64::from(d.attempts)),
        d.last_error.clone().map_or(Value::Null, Value::Text),
        Value::Integer(d.next_attempt_at_ms),
        Value::Integer(d.expires_at),
        Value::Integer(d.created_at),
        d.delivered_at.map_or(Value::Null, Value::Integer),
    ]
}

pub(crate) fn delivery_from_row(row: &Row) -> Result<CallbackDelivery, StoreError> {
    let status: String = row.get(5).db()?;
    let attempts: i64 = row.get(6).db()?;
    Ok(CallbackDelivery {
        id: row.get(0).db()?,
        client_id: row.get(1).db()?,
        request_id: row.get(2).db()?,
        url: row.get(3).db()?,
        body_sealed: row.get(4).db()?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("delivery status", &status))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("delivery attempts", attempts))?,
        last_error: row.get(7).db()?,
        next_attempt_at_ms: row.get(8).db()?,
        expires_at: row.get(9).db()?,
        created_at: row.get(10).db()?,
        delivered_at: row.get(11).db()?,
    })
}

// --- users -----------------------------------------------------------------------------------

pub(crate) fn user_params(u: &User) -> Result<[Value; 12], StoreError> {
    let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let address = match &u.address {
        Some(a) => Value::Text(serde_json::to_string(a).map_err(json_err)?),
        None => Value::Null,
    };
    Ok([
        Value::Integer(u.sub),
        Value::Text(u.phone_e164.clone()),
        Value::Text(u.phone_country.clone()),
        Value::Integer(i64::from(u.phone_verified)),
        opt(&u.given_name),
        opt(&u.family_name),
        opt(&u.email),
        opt(&u.picture),
        opt(&u.gender),
        address,
        Value::Text(u.status.as_str().to_string()),
        Value::Integer(u.created_at),
    ])
}

pub(crate) fn user_from_row(row: &Row) -> Result<User, StoreError> {
    user_at(row, 0)
}

/// The user whose columns ([`user_cols`]) start at column `at` of `row`.
pub(crate) fn user_at(row: &Row, at: usize) -> Result<User, StoreError> {
    let address: Option<String> = row.get(at + 9).db()?;
    let address = match address {
        Some(s) => {
            Some(serde_json::from_str::<Address>(&s).map_err(|e| corrupt("user address", e))?)
        }
        None => None,
    };
    let status: String = row.get(at + 10).db()?;
    Ok(User {
        sub: row.get(at).db()?,
        phone_e164: row.get(at + 1).db()?,
        phone_country: row.get(at + 2).db()?,
        phone_verified: row.get(at + 3).db()?,
        given_name: row.get(at + 4).db()?,
        family_name: row.get(at + 5).db()?,
        email: row.get(at + 6).db()?,
        picture: row.get(at + 7).db()?,
        gender: row.get(at + 8).db()?,
        address,
        status: UserStatus::parse(&status).ok_or_else(|| corrupt("user status", &status))?,
        created_at: row.get(at + 11).db()?,
    })
}

// --- codes and tokens ------------------------------------------------------------------------

pub(crate) fn code_params(c: &AuthCode) -> [Value; 11] {
    [
        hash_value(&c.hash),
        Value::Text(c.family_id.clone()),
        Value::Text(c.client_id.clone()),
        Value::Integer(c.sub),
        Value::Text(c.scopes.to_string()),
        Value::Text(c.code_challenge.clone()),
        c.redirect_uri.clone().map_or(Value::Null, Value::Text),
        c.nonce.clone().map_or(Value::Null, Value::Text),
        Value::Integer(c.auth_time),
        Value::Integer(c.expires_at),
        c.consumed_at.map_or(Value::Null, Value::Integer),
    ]
}

pub(crate) fn code_from_row(row: &Row) -> Result<AuthCode, StoreError> {
    Ok(AuthCode {
        hash: hash(row, 0, "code hash")?,
        family_id: row.get(1).db()?,
        client_id: row.get(2).db()?,
        sub: row.get(3).db()?,
        scopes: scopes(row, 4, "code scopes")?,
        code_challenge: row.get(5).db()?,
        redirect_uri: row.get(6).db()?,
        nonce: row.get(7).db()?,
        auth_time: row.get(8).db()?,
        expires_at: row.get(9).db()?,
        consumed_at: row.get(10).db()?,
    })
}

pub(crate) fn access_params(t: &AccessToken) -> [Value; 8] {
    [
        hash_value(&t.hash),
        Value::Text(t.family_id.clone()),
        Value::Text(t.client_id.clone()),
        Value::Integer(t.sub),
        Value::Text(t.scopes.to_string()),
        Value::Integer(t.issued_at),
        Value::Integer(t.expires_at),
        Value::Integer(i64::from(t.revoked)),
    ]
}

/// How many columns [`access_cols`] lists.
pub(crate) const ACCESS_COLS: usize = 8;

pub(crate) fn access_from_row(row: &Row) -> Result<AccessToken, StoreError> {
    Ok(AccessToken {
        hash: hash(row, 0, "access token hash")?,
        family_id: row.get(1).db()?,
        client_id: row.get(2).db()?,
        sub: row.get(3).db()?,
        scopes: scopes(row, 4, "access token scopes")?,
        issued_at: row.get(5).db()?,
        expires_at: row.get(6).db()?,
        revoked: row.get(7).db()?,
    })
}

pub(crate) fn refresh_params(t: &RefreshToken) -> [Value; 10] {
    [
        hash_value(&t.hash),
        Value::Text(t.family_id.clone()),
        Value::Text(t.client_id.clone()),
        Value::Integer(t.sub),
        Value::Text(t.scopes.to_string()),
        Value::Integer(t.auth_time),
        Value::Integer(t.issued_at),
        Value::Integer(t.expires_at),
        t.used_at.map_or(Value::Null, Value::Integer),
        Value::Integer(i64::from(t.revoked)),
    ]
}

pub(crate) fn refresh_from_row(row: &Row) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        hash: hash(row, 0, "refresh token hash")?,
        family_id: row.get(1).db()?,
        client_id: row.get(2).db()?,
        sub: row.get(3).db()?,
        scopes: scopes(row, 4, "refresh token scopes")?,
        auth_time: row.get(5).db()?,
        issued_at: row.get(6).db()?,
        expires_at: row.get(7).db()?,
        used_at: row.get(8).db()?,
        revoked: row.get(9).db()?,
    })
}

// --- signing keys ----------------------------------------------------------------------------

pub(crate) fn key_from_row(row: &Row) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: row.get(0).db()?,
        private_key_sealed: row.get(1).db()?,
        public_n: row.get(2).db()?,
        public_e: row.get(3).db()?,
        created_at: row.get(4).db()?,
        current: row.get(5).db()?,
    })
}

// --- query helpers ---------------------------------------------------------------------------

/// The first row `sql` returns, decoded, or `None`.
pub(crate) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    match rows.next().db()? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Every row `sql` returns, decoded.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_counts() {
        assert_eq!(access_cols!().split(',').count(), ACCESS_COLS);
    }
}
