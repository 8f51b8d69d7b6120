//! A store wrapper the test can switch between passing through, failing (`Unavailable`) and
//! hanging, to drive the 503 / readiness / recovery paths deterministically.

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcauth_core::model::{
    AccessToken, AttemptOutcome, AuthCode, Branding, CallbackDelivery, Client, IssuedTokens,
    OtpChallenge, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus, VerificationToken,
};
use tcauth_core::secret::TokenHash;
use tcauth_store::{OtpCheck, Redemption, Result, Rotation, Store, StoreError};

const PASS: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;
const BROKEN: u8 = 3;

#[derive(Default)]
pub struct Fault {
    mode: AtomicU8,
    /// Calls that reached the wrapper while it was failing or hanging.
    pub faulted_calls: AtomicU64,
    /// `finish_interaction` alone answers `StoreError::Unavailable` (when set), the other
    /// calls follow the mode.
    pub finishing_fails: AtomicBool,
}

impl Fault {
    pub fn pass(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
    }
    /// Every call answers `StoreError::Unavailable`.
    pub fn fail(&self) {
        self.mode.store(FAIL, Ordering::SeqCst);
    }
    /// Every call answers `StoreError::Internal` (a bug or corrupt data).
    pub fn break_down(&self) {
        self.mode.store(BROKEN, Ordering::SeqCst);
    }
    /// Every call waits (up to 30 s, or until switched back) before going through.
    pub fn hang(&self) {
        self.mode.store(HANG, Ordering::SeqCst);
    }
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    fault: Arc<Fault>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>, fault: Arc<Fault>) -> Self {
        FaultyStore { inner, fault }
    }

    async fn gate(&self) -> Result<()> {
        self.gate_counting(true).await
    }

    /// [`FaultyStore::gate`]; a faulted call counts in `faulted_calls` only when `count` (the
    /// nodes' background polls, of `clients_revision` every 250 ms and of the callback outbox
    /// every `callback_poll_interval`, are not requests a test waits for).
    async fn gate_counting(&self, count: bool) -> Result<()> {
        let counted = |f: &Fault| {
            if count {
                f.faulted_calls.fetch_add(1, Ordering::Relaxed);
            }
        };
        let mut waited = Duration::ZERO;
        loop {
            match self.fault.mode.load(Ordering::SeqCst) {
                PASS => return Ok(()),
                FAIL => {
                    counted(&self.fault);
                    return Err(StoreError::Unavailable("injected fault".into()));
                }
                BROKEN => {
                    counted(&self.fault);
                    return Err(StoreError::Internal("injected internal error".into()));
                }
                _ => {
                    if waited.is_zero() {
                        counted(&self.fault);
                    }
                    if waited >= Duration::from_secs(30) {
                        return Err(StoreError::Unavailable("injected hang".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    waited += Duration::from_millis(20);
                }
            }
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn ping(&self) -> Result<()> {
        self.gate().await?;
        self.inner.ping().await
    }
    async fn create_client(&self, client: &Client) -> Result<()> {
        self.gate().await?;
        self.inner.create_client(client).await
    }
    async fn get_client(&self, client_id: &str) -> Result<Option<Client>> {
        self.gate().await?;
        self.inner.get_client(client_id).await
    }
    async fn list_clients(&self) -> Result<Vec<Client>> {
        self.gate().await?;
        self.inner.list_clients().await
    }
    async fn delete_client(&self, client_id: &str) -> Result<bool> {
        self.gate().await?;
        self.inner.delete_client(client_id).await
    }
    async fn update_client(&self, client: &Client) -> Result<bool> {
        self.gate().await?;
        self.inner.update_client(client).await
    }
    async fn get_client_by_app_key(&self, app_key: &str) -> Result<Option<Client>> {
        self.gate().await?;
        self.inner.get_client_by_app_key(app_key).await
    }
    async fn clients_revision(&self) -> Result<(i64, i64)> {
        self.gate_counting(false).await?;
        self.inner.clients_revision().await
    }
    async fn set_client_live(&self, client_id: &str, now_ms: i64) -> Result<bool> {
        self.gate().await?;
        self.inner.set_client_live(client_id, now_ms).await
    }
    async fn put_test_number(&self, test_number: &TestNumber) -> Result<bool> {
        self.gate().await?;
        self.inner.put_test_number(test_number).await
    }
    async fn list_test_numbers(&self, client_id: &str) -> Result<Vec<TestNumber>> {
        self.gate().await?;
        self.inner.list_test_numbers(client_id).await
    }
    async fn get_test_number(&self, client_id: &str, e164: &str) -> Result<Option<TestNumber>> {
        self.gate().await?;
        self.inner.get_test_number(client_id, e164).await
    }
    async fn delete_test_number(&self, client_id: &str, e164: &str) -> Result<bool> {
        self.gate().await?;
        self.inner.delete_test_number(client_id, e164).await
    }
    async fn finish_web_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        token: Option<&AccessToken>,
        delivery: &CallbackDelivery,
    ) -> Result<bool> {
        self.gate().await?;
        self.inner
            .finish_web_interaction(key, expires_at, token, delivery)
            .await
    }
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        self.gate_counting(false).await?;
        self.inner
            .claim_deliveries(now_ms, lease_until_ms, limit)
            .await
    }
    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<bool> {
        self.gate().await?;
        self.inner.record_delivery_attempt(id, outcome).await
    }
    async fn list_deliveries(
        &self,
        client_id: &str,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>> {
        self.gate_counting(false).await?;
        self.inner.list_deliveries(client_id, limit).await
    }
    async fn count_pending_deliveries(&self) -> Result<u64> {
        self.gate_counting(false).await?;
        self.inner.count_pending_deliveries().await
    }
    async fn create_user(&self, user: &User) -> Result<()> {
        self.gate().await?;
        self.inner.create_user(user).await
    }
    async fn import_users(&self, users: &[User]) -> Result<()> {
        self.gate().await?;
        self.inner.import_users(users).await
    }
    async fn get_user(&self, sub: i64) -> Result<Option<User>> {
        self.gate().await?;
        self.inner.get_user(sub).await
    }
    async fn get_user_by_phone(&self, e164: &str) -> Result<Option<User>> {
        self.gate().await?;
        self.inner.get_user_by_phone(e164).await
    }
    async fn list_users(&self, after_sub: Option<i64>, limit: u32) -> Result<Vec<User>> {
        self.gate().await?;
        self.inner.list_users(after_sub, limit).await
    }
    async fn delete_user(&self, sub: i64) -> Result<bool> {
        self.gate().await?;
        self.inner.delete_user(sub).await
    }
    async fn set_user_status(&self, sub: i64, status: UserStatus) -> Result<bool> {
        self.gate().await?;
        self.inner.set_user_status(sub, status).await
    }
    async fn insert_code(&self, code: &AuthCode) -> Result<()> {
        self.gate().await?;
        self.inner.insert_code(code).await
    }
    async fn get_code(&self, hash: &TokenHash) -> Result<Option<AuthCode>> {
        self.gate().await?;
        self.inner.get_code(hash).await
    }
    async fn burn_code(&self, hash: &TokenHash, now: i64) -> Result<()> {
        self.gate().await?;
        self.inner.burn_code(hash, now).await
    }
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Redemption> {
        self.gate().await?;
        self.inner.redeem_code(hash, now, tokens).await
    }
    async fn finish_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        code: Option<&AuthCode>,
    ) -> Result<bool> {
        self.gate().await?;
        if self.fault.finishing_fails.load(Ordering::SeqCst) {
            self.fault.faulted_calls.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable("injected fault (finishing)".into()));
        }
        self.inner.finish_interaction(key, expires_at, code).await
    }
    async fn interaction_finished(&self, key: &TokenHash) -> Result<bool> {
        self.gate().await?;
        self.inner.interaction_finished(key).await
    }
    async fn get_access_token(&self, hash: &TokenHash) -> Result<Option<AccessToken>> {
        self.gate().await?;
        self.inner.get_access_token(hash).await
    }
    async fn get_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>> {
        self.gate().await?;
        self.inner.get_refresh_token(hash).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Rotation> {
        self.gate().await?;
        self.inner.rotate_refresh_token(old, now, tokens).await
    }
    async fn revoke_family(&self, family_id: &str) -> Result<()> {
        self.gate().await?;
        self.inner.revoke_family(family_id).await
    }
    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool> {
        self.gate().await?;
        self.inner.revoke_access_token(hash).await
    }
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.gate().await?;
        self.inner.list_signing_keys().await
    }
    async fn add_signing_key(&self, key: &SigningKeyRecord, keep: usize) -> Result<()> {
        self.gate().await?;
        self.inner.add_signing_key(key, keep).await
    }
    async fn sweep_expired(&self, now: i64, batch: usize) -> Result<u64> {
        self.gate().await?;
        self.inner.sweep_expired(now, batch).await
    }
    async fn set_client_branding(
        &self,
        client_id: &str,
        branding: Option<&Branding>,
    ) -> Result<bool> {
        self.gate().await?;
        self.inner.set_client_branding(client_id, branding).await
    }
    async fn insert_otp(&self, otp: &OtpChallenge) -> Result<()> {
        self.gate().await?;
        self.inner.insert_otp(otp).await
    }
    async fn get_otp(&self, id: &str) -> Result<Option<OtpChallenge>> {
        self.gate().await?;
        self.inner.get_otp(id).await
    }
    async fn check_otp(
        &self,
        id: &str,
        binding: &str,
        code_mac: &[u8; 32],
        now: i64,
    ) -> Result<OtpCheck> {
        self.gate().await?;
        self.inner.check_otp(id, binding, code_mac, now).await
    }
    async fn burn_otp(&self, id: &str, now: i64) -> Result<()> {
        self.gate().await?;
        self.inner.burn_otp(id, now).await
    }
    async fn insert_verification_token(&self, token: &VerificationToken) -> Result<()> {
        self.gate().await?;
        self.inner.insert_verification_token(token).await
    }
    async fn use_verification_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<Option<VerificationToken>> {
        self.gate().await?;
        self.inner
            .use_verification_token(hash, client_id, now)
            .await
    }
}
