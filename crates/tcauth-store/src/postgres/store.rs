//! `impl Store for PgStore`: every method takes one pooled connection for its whole work and
//! hands it to the statements of its topic — `clients.rs`, `users.rs`, `grants.rs` (codes,
//! finished sign-ins, tokens), `keys.rs`, `otp.rs` — except the sweeper, here, which spans
//! every table.

use super::error::PgResultExt;
use super::rows::*;
use super::{clients, grants, keys, otp, users, web, PgStore};
use crate::{AccessTokenView, OtpCheck, Redemption, Result, Rotation, Store, WithClient};
use async_trait::async_trait;
use deadpool_postgres::Object;
use tcauth_core::model::{
    AccessToken, AttemptOutcome, AuthCode, Branding, CallbackDelivery, Client, IssuedTokens,
    OtpChallenge, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus, VerificationToken,
};
use tcauth_core::secret::TokenHash;

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

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        self.with_conn(async |c| ping(c).await).await
    }

    // --- clients (statements in `clients.rs`) ----------------------------------------------

    async fn create_client(&self, client: &Client) -> Result<()> {
        self.with_conn(async |c| clients::create_client(c, client).await)
            .await
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>> {
        self.with_conn(async |c| clients::get_client(c, client_id).await)
            .await
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        self.with_conn(async |c| clients::list_clients(c).await)
            .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool> {
        self.with_conn(async |c| clients::delete_client(c, client_id).await)
            .await
    }

    async fn set_client_branding(
        &self,
        client_id: &str,
        branding: Option<&Branding>,
    ) -> Result<bool> {
        self.with_conn(async |c| clients::set_client_branding(c, client_id, branding).await)
            .await
    }

    async fn update_client(&self, client: &Client) -> Result<bool> {
        self.with_conn(async |c| clients::update_client(c, client).await)
            .await
    }

    async fn get_client_by_app_key(&self, app_key: &str) -> Result<Option<Client>> {
        self.with_conn(async |c| clients::get_client_by_app_key(c, app_key).await)
            .await
    }

    async fn clients_revision(&self) -> Result<(i64, i64)> {
        self.with_conn(async |c| clients::clients_revision(c).await)
            .await
    }

    async fn set_client_live(&self, client_id: &str, now_ms: i64) -> Result<bool> {
        self.with_conn(async |c| clients::set_client_live(c, client_id, now_ms).await)
            .await
    }

    async fn put_test_number(&self, test_number: &TestNumber) -> Result<bool> {
        self.with_conn(async |c| clients::put_test_number(c, test_number).await)
            .await
    }

    async fn list_test_numbers(&self, client_id: &str) -> Result<Vec<TestNumber>> {
        self.with_conn(async |c| clients::list_test_numbers(c, client_id).await)
            .await
    }

    async fn get_test_number(&self, client_id: &str, e164: &str) -> Result<Option<TestNumber>> {
        self.with_conn(async |c| clients::get_test_number(c, client_id, e164).await)
            .await
    }

    async fn delete_test_number(&self, client_id: &str, e164: &str) -> Result<bool> {
        self.with_conn(async |c| clients::delete_test_number(c, client_id, e164).await)
            .await
    }

    // --- Mobile Websites callbacks (statements in `web.rs`) ------------------------------------

    async fn finish_web_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        token: Option<&AccessToken>,
        delivery: &CallbackDelivery,
    ) -> Result<bool> {
        self.with_conn(async |c| {
            web::finish_web_interaction(c, key, expires_at, token, delivery).await
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        self.with_conn(async |c| web::claim_deliveries(c, now_ms, lease_until_ms, limit).await)
            .await
    }

    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<bool> {
        self.with_conn(async |c| web::record_delivery_attempt(c, id, outcome).await)
            .await
    }

    async fn list_deliveries(
        &self,
        client_id: &str,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        self.with_conn(async |c| web::list_deliveries(c, client_id, limit).await)
            .await
    }

    async fn count_pending_deliveries(&self) -> Result<u64> {
        self.with_conn(async |c| web::count_pending_deliveries(c).await)
            .await
    }

    // --- users (statements in `users.rs`) --------------------------------------------------

    async fn create_user(&self, u: &User) -> Result<()> {
        self.with_conn(async |c| users::create_user(c, u).await)
            .await
    }

    async fn import_users(&self, users: &[User]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        self.with_conn(async |c| users::import(c, users).await)
            .await
    }

    async fn get_user(&self, sub: i64) -> Result<Option<User>> {
        self.with_conn(async |c| users::get_user_on(&*c, sub).await)
            .await
    }

    async fn list_users(&self, after_sub: Option<i64>, limit: u32) -> Result<Vec<User>> {
        self.with_conn(async |c| users::list_users(c, after_sub, limit).await)
            .await
    }

    async fn get_user_by_phone(&self, e164: &str) -> Result<Option<User>> {
        self.with_conn(async |c| users::get_user_by_phone(c, e164).await)
            .await
    }

    async fn delete_user(&self, sub: i64) -> Result<bool> {
        self.with_conn(async |c| users::delete_user(c, sub).await)
            .await
    }

    async fn set_user_status(&self, sub: i64, status: UserStatus) -> Result<bool> {
        self.with_conn(async |c| users::set_user_status(c, sub, status).await)
            .await
    }

    // --- authorization codes (statements in `grants.rs`) -----------------------------------

    async fn insert_code(&self, code: &AuthCode) -> Result<()> {
        self.with_conn(async |c| grants::insert_code(c, code).await)
            .await
    }

    async fn get_code(&self, hash: &TokenHash) -> Result<Option<AuthCode>> {
        self.with_conn(async |c| grants::get_code(c, hash).await)
            .await
    }

    async fn burn_code(&self, hash: &TokenHash, now: i64) -> Result<()> {
        self.with_conn(async |c| grants::burn_code(c, hash, now).await)
            .await
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Redemption> {
        self.with_conn(async |c| grants::redeem_code(c, hash, now, tokens).await)
            .await
    }

    // --- finished sign-ins (statements in `grants.rs`) -------------------------------------

    async fn finish_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        code: Option<&AuthCode>,
    ) -> Result<bool> {
        self.with_conn(async |c| grants::finish_interaction(c, key, expires_at, code).await)
            .await
    }

    async fn interaction_finished(&self, key: &TokenHash) -> Result<bool> {
        self.with_conn(async |c| grants::interaction_finished(c, key).await)
            .await
    }

    // --- tokens (statements in `grants.rs`) ------------------------------------------------

    async fn get_access_token(&self, hash: &TokenHash) -> Result<Option<AccessToken>> {
        self.with_conn(async |c| grants::get_access_token(c, hash).await)
            .await
    }

    async fn get_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>> {
        self.with_conn(async |c| grants::get_refresh_token(c, hash).await)
            .await
    }

    async fn get_client_and_code(
        &self,
        client_id: &str,
        code: &TokenHash,
    ) -> Result<WithClient<AuthCode>> {
        self.with_conn(async |c| grants::get_client_and_code(c, client_id, code).await)
            .await
    }

    async fn get_client_and_refresh_token(
        &self,
        client_id: &str,
        token: &TokenHash,
    ) -> Result<WithClient<RefreshToken>> {
        self.with_conn(async |c| grants::get_client_and_refresh_token(c, client_id, token).await)
            .await
    }

    async fn get_access_token_view(&self, hash: &TokenHash) -> Result<Option<AccessTokenView>> {
        self.with_conn(async |c| grants::get_access_token_view(c, hash).await)
            .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Rotation> {
        self.with_conn(async |c| grants::rotate_refresh_token(c, old, now, tokens).await)
            .await
    }

    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        self.with_conn(async |c| grants::revoke_family(c, family_id).await)
            .await
    }

    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool> {
        self.with_conn(async |c| grants::revoke_access_token(c, hash).await)
            .await
    }

    // --- signing keys (statements in `keys.rs`) --------------------------------------------

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.with_conn(async |c| keys::list_signing_keys(c).await)
            .await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord, keep: usize) -> Result<()> {
        self.with_conn(async |c| keys::add_signing_key(c, key, keep).await)
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
                // Kept for the delivery log until a day (DELIVERY_LOG_KEEP) past expiry.
                "DELETE FROM callback_deliveries WHERE id IN (SELECT id FROM \
                 callback_deliveries WHERE expires_at < $1::bigint - 86400 LIMIT $2 \
                 FOR UPDATE SKIP LOCKED)",
            ] {
                total += exec(&tx, sql, &[&now, &limit]).await?;
            }
            tx.commit().await.db()?;
            Ok(total)
        })
        .await
    }
}
