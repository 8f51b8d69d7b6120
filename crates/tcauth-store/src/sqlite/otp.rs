//! One-time-code challenges and verification tokens: rows, and the statements behind the
//! atomic operations (each runs inside one writer command, i.e. one savepoint of a durable
//! group-commit transaction, so check-and-set is atomic).

use super::error::{is_unique_violation, map_err, SqlResultExt};
use super::rows::query_opt;
use crate::columns::{otp_cols, vt_cols};
use crate::{OtpCheck, StoreError};
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row};
use tcauth_core::model::{OtpChallenge, OtpPurpose, VerificationToken};
use tcauth_core::otp::mac_eq;
use tcauth_core::secret::{ct_eq, TokenHash};

/// The sweeper's statements for these tables: delete at most `?2` rows expired before `?1`.
pub(crate) const SWEEP: [&str; 2] = [
    "DELETE FROM otp_challenges WHERE id IN \
     (SELECT id FROM otp_challenges WHERE expires_at < ?1 LIMIT ?2)",
    "DELETE FROM verification_tokens WHERE hash IN \
     (SELECT hash FROM verification_tokens WHERE expires_at < ?1 LIMIT ?2)",
];

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in the database: {detail}"))
}

fn blob32(row: &Row, idx: usize, what: &str) -> Result<[u8; 32], StoreError> {
    let b: Vec<u8> = row.get(idx).db()?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt(what, format!("{} bytes", b.len())))
}

fn otp_from_row(row: &Row) -> Result<OtpChallenge, StoreError> {
    let purpose: String = row.get(1).db()?;
    let attempts: i64 = row.get(6).db()?;
    Ok(OtpChallenge {
        id: row.get(0).db()?,
        purpose: OtpPurpose::parse(&purpose).ok_or_else(|| corrupt("OTP purpose", &purpose))?,
        phone_e164: row.get(2).db()?,
        phone_country: row.get(3).db()?,
        binding: row.get(4).db()?,
        code_mac: blob32(row, 5, "OTP MAC")?,
        attempts_left: u8::try_from(attempts).map_err(|_| corrupt("OTP attempts", attempts))?,
        created_at: row.get(7).db()?,
        expires_at: row.get(8).db()?,
        consumed_at: row.get(9).db()?,
    })
}

fn vt_from_row(row: &Row) -> Result<VerificationToken, StoreError> {
    Ok(VerificationToken {
        hash: TokenHash(blob32(row, 0, "verification token hash")?),
        client_id: row.get(1).db()?,
        phone_e164: row.get(2).db()?,
        phone_country: row.get(3).db()?,
        created_at: row.get(4).db()?,
        expires_at: row.get(5).db()?,
        used_at: row.get(6).db()?,
    })
}

pub(crate) fn insert_otp(conn: &Connection, o: &OtpChallenge) -> Result<(), StoreError> {
    let r = conn
        .prepare_cached(concat!(
            "INSERT INTO otp_challenges (",
            otp_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))
        .db()?
        .execute([
            Value::Text(o.id.clone()),
            Value::Text(o.purpose.as_str().to_string()),
            Value::Text(o.phone_e164.clone()),
            Value::Text(o.phone_country.clone()),
            Value::Text(o.binding.clone()),
            Value::Blob(o.code_mac.to_vec()),
            Value::Integer(i64::from(o.attempts_left)),
            Value::Integer(o.created_at),
            Value::Integer(o.expires_at),
            o.consumed_at.map_or(Value::Null, Value::Integer),
        ]);
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "one-time-code challenge {} already exists",
            o.id
        ))),
        Err(e) => Err(map_err(e)),
    }
}

pub(crate) fn get_otp(conn: &Connection, id: &str) -> Result<Option<OtpChallenge>, StoreError> {
    query_opt(
        conn,
        concat!("SELECT ", otp_cols!(), " FROM otp_challenges WHERE id = ?1"),
        [id],
        otp_from_row,
    )
}

pub(crate) fn check_otp(
    conn: &Connection,
    id: &str,
    binding: &str,
    code_mac: &[u8; 32],
    now: i64,
) -> Result<OtpCheck, StoreError> {
    // The writer is the only writer: between this read and the update below nobody else
    // can change the row.
    let Some(o) = get_otp(conn, id)? else {
        return Ok(OtpCheck::Expired);
    };
    if o.consumed_at.is_some()
        || o.expires_at <= now
        || !ct_eq(o.binding.as_bytes(), binding.as_bytes())
    {
        return Ok(OtpCheck::Expired);
    }
    if o.attempts_left == 0 {
        return Ok(OtpCheck::Locked);
    }
    if mac_eq(&o.code_mac, code_mac) {
        conn.prepare_cached(
            "UPDATE otp_challenges SET consumed_at = ?1 WHERE id = ?2 AND consumed_at IS NULL",
        )
        .db()?
        .execute(params![now, id])
        .db()?;
        return Ok(OtpCheck::Accepted);
    }
    let left = o.attempts_left - 1;
    conn.prepare_cached("UPDATE otp_challenges SET attempts_left = ?1 WHERE id = ?2")
        .db()?
        .execute(params![i64::from(left), id])
        .db()?;
    Ok(OtpCheck::Wrong {
        attempts_left: left,
    })
}

pub(crate) fn burn_otp(conn: &Connection, id: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE otp_challenges SET consumed_at = ?1 WHERE id = ?2 AND consumed_at IS NULL",
    )
    .db()?
    .execute(params![now, id])
    .db()?;
    Ok(())
}

pub(crate) fn insert_verification_token(
    conn: &Connection,
    t: &VerificationToken,
) -> Result<(), StoreError> {
    let r = conn
        .prepare_cached(concat!(
            "INSERT INTO verification_tokens (",
            vt_cols!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .db()?
        .execute([
            Value::Blob(t.hash.0.to_vec()),
            Value::Text(t.client_id.clone()),
            Value::Text(t.phone_e164.clone()),
            Value::Text(t.phone_country.clone()),
            Value::Integer(t.created_at),
            Value::Integer(t.expires_at),
            t.used_at.map_or(Value::Null, Value::Integer),
        ]);
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(
            "verification token already exists".into(),
        )),
        Err(e) => Err(map_err(e)),
    }
}

pub(crate) fn use_verification_token(
    conn: &Connection,
    hash: &TokenHash,
    client_id: &str,
    now: i64,
) -> Result<Option<VerificationToken>, StoreError> {
    let won = conn
        .prepare_cached(
            "UPDATE verification_tokens SET used_at = ?1 \
             WHERE hash = ?2 AND client_id = ?3 AND used_at IS NULL AND expires_at > ?1",
        )
        .db()?
        .execute(params![now, &hash.0[..], client_id])
        .db()?;
    if won != 1 {
        return Ok(None);
    }
    query_opt(
        conn,
        concat!(
            "SELECT ",
            vt_cols!(),
            " FROM verification_tokens WHERE hash = ?1"
        ),
        [&hash.0[..]],
        vt_from_row,
    )
}
