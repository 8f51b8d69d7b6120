//! One-time-code challenges and verification tokens: rows, and the statements behind the
//! atomic operations.

use super::error::{is_unique_violation_on, map_err, PgResultExt};
use super::rows::{corrupt, exec, get, query_opt};
use crate::columns::{otp_cols, vt_cols};
use crate::{OtpCheck, StoreError};
use deadpool_postgres::{GenericClient, Object};
use tcauth_core::model::{OtpChallenge, OtpPurpose, VerificationToken};
use tcauth_core::otp::mac_eq;
use tcauth_core::secret::{ct_eq, TokenHash};
use tokio_postgres::Row;

/// The sweeper's statements for these tables: delete at most `$2` rows expired before `$1`
/// (rows another sweeper is deleting right now are skipped, not waited for).
pub(crate) const SWEEP: [&str; 2] = [
    "DELETE FROM otp_challenges WHERE id IN (SELECT id FROM otp_challenges \
     WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    "DELETE FROM verification_tokens WHERE hash IN (SELECT hash FROM verification_tokens \
     WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
];

fn blob32(row: &Row, idx: usize, what: &str) -> Result<[u8; 32], StoreError> {
    let b: &[u8] = get(row, idx)?;
    <[u8; 32]>::try_from(b).map_err(|_| corrupt(what, format!("{} bytes", b.len())))
}

fn otp_from_row(row: &Row) -> Result<OtpChallenge, StoreError> {
    let purpose: &str = get(row, 1)?;
    let attempts: i16 = get(row, 6)?;
    Ok(OtpChallenge {
        id: get(row, 0)?,
        purpose: OtpPurpose::parse(purpose).ok_or_else(|| corrupt("OTP purpose", purpose))?,
        phone_e164: get(row, 2)?,
        phone_country: get(row, 3)?,
        binding: get(row, 4)?,
        code_mac: blob32(row, 5, "OTP MAC")?,
        attempts_left: u8::try_from(attempts).map_err(|_| corrupt("OTP attempts", attempts))?,
        created_at: get(row, 7)?,
        expires_at: get(row, 8)?,
        consumed_at: get(row, 9)?,
    })
}

fn vt_from_row(row: &Row) -> Result<VerificationToken, StoreError> {
    Ok(VerificationToken {
        hash: TokenHash(blob32(row, 0, "verification token hash")?),
        client_id: get(row, 1)?,
        phone_e164: get(row, 2)?,
        phone_country: get(row, 3)?,
        created_at: get(row, 4)?,
        expires_at: get(row, 5)?,
        used_at: get(row, 6)?,
    })
}

pub(crate) async fn insert_otp(c: &Object, o: &OtpChallenge) -> Result<(), StoreError> {
    let stmt = c
        .prepare_cached(concat!(
            "INSERT INTO otp_challenges (",
            otp_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .await
        .db()?;
    let r = c
        .execute(
            &stmt,
            &[
                &o.id,
                &o.purpose.as_str(),
                &o.phone_e164,
                &o.phone_country,
                &o.binding,
                &&o.code_mac[..],
                &i16::from(o.attempts_left),
                &o.created_at,
                &o.expires_at,
                &o.consumed_at,
            ],
        )
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation_on(&e, "otp_challenges_pkey") => Err(StoreError::Conflict(
            format!("one-time-code challenge {} already exists", o.id),
        )),
        Err(e) => Err(map_err(e)),
    }
}

pub(crate) async fn get_otp(
    c: &impl GenericClient,
    id: &str,
) -> Result<Option<OtpChallenge>, StoreError> {
    query_opt(
        c,
        concat!("SELECT ", otp_cols!(), " FROM otp_challenges WHERE id = $1"),
        &[&id],
        otp_from_row,
    )
    .await
}

/// The challenge row is locked (`FOR UPDATE`) for the whole decision, so concurrent checks of
/// one challenge, from any connection or node, are decided one after the other: one right
/// code is accepted once, and each wrong code spends exactly one attempt.
pub(crate) async fn check_otp(
    c: &mut Object,
    id: &str,
    binding: &str,
    code_mac: &[u8; 32],
    now: i64,
) -> Result<OtpCheck, StoreError> {
    let tx = c.transaction().await.db()?;
    let locked = query_opt(
        &tx,
        concat!(
            "SELECT ",
            otp_cols!(),
            " FROM otp_challenges WHERE id = $1 FOR UPDATE"
        ),
        &[&id],
        otp_from_row,
    )
    .await?;
    let Some(o) = locked else {
        tx.rollback().await.db()?;
        return Ok(OtpCheck::Expired);
    };
    if o.consumed_at.is_some()
        || o.expires_at <= now
        || !ct_eq(o.binding.as_bytes(), binding.as_bytes())
    {
        tx.rollback().await.db()?;
        return Ok(OtpCheck::Expired);
    }
    if o.attempts_left == 0 {
        tx.rollback().await.db()?;
        return Ok(OtpCheck::Locked);
    }
    let outcome = if mac_eq(&o.code_mac, code_mac) {
        exec(
            &tx,
            "UPDATE otp_challenges SET consumed_at = $1 WHERE id = $2",
            &[&now, &id],
        )
        .await?;
        OtpCheck::Accepted
    } else {
        let left = o.attempts_left - 1;
        exec(
            &tx,
            "UPDATE otp_challenges SET attempts_left = $1 WHERE id = $2",
            &[&i16::from(left), &id],
        )
        .await?;
        OtpCheck::Wrong {
            attempts_left: left,
        }
    };
    tx.commit().await.db()?;
    Ok(outcome)
}

pub(crate) async fn burn_otp(c: &Object, id: &str, now: i64) -> Result<(), StoreError> {
    exec(
        c,
        "UPDATE otp_challenges SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL",
        &[&now, &id],
    )
    .await?;
    Ok(())
}

pub(crate) async fn insert_verification_token(
    c: &Object,
    t: &VerificationToken,
) -> Result<(), StoreError> {
    let stmt = c
        .prepare_cached(concat!(
            "INSERT INTO verification_tokens (",
            vt_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .await
        .db()?;
    let r = c
        .execute(
            &stmt,
            &[
                &&t.hash.0[..],
                &t.client_id,
                &t.phone_e164,
                &t.phone_country,
                &t.created_at,
                &t.expires_at,
                &t.used_at,
            ],
        )
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation_on(&e, "verification_tokens_pkey") => Err(
            StoreError::Conflict("verification token already exists".into()),
        ),
        Err(e) => Err(map_err(e)),
    }
}

/// One conditional `UPDATE … RETURNING`, committed on its own: of concurrent uses, the first
/// to lock the row wins; the others re-check it after that commit and find it used.
pub(crate) async fn use_verification_token(
    c: &Object,
    hash: &TokenHash,
    client_id: &str,
    now: i64,
) -> Result<Option<VerificationToken>, StoreError> {
    query_opt(
        c,
        concat!(
            "UPDATE verification_tokens SET used_at = $1 \
             WHERE hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING ",
            vt_cols!()
        ),
        &[&now, &&hash.0[..], &client_id],
        vt_from_row,
    )
    .await
}
