//! Storage for tcauth: one [`Store`] trait, one module per backend.
//!
//! This is the only crate that speaks SQL. Two backends: [`SqliteStore`] (embedded, one node)
//! and [`PgStore`] (PostgreSQL, many nodes on one database). Every backend passes the same
//! conformance story (`tests/conformance/`, run by `tests/sqlite.rs` for SQLite and
//! `tests/postgres.rs` for PostgreSQL, modules of the one test binary `tests/tests.rs`), so the
//! server can treat them alike.
//!
//! Architecture invariants every backend keeps:
//! - A method that writes returns `Ok` only after its transaction is durably committed.
//! - [`Store::redeem_code`], [`Store::rotate_refresh_token`], [`Store::check_otp`] and
//!   [`Store::use_verification_token`] are atomic check-and-set operations: of any number of
//!   concurrent calls for one code or token, exactly one wins; so is
//!   [`Store::finish_interaction`], for one sign-in.
//! - Secrets are never stored in clear; the records carry only [`TokenHash`]es, and one-time
//!   codes only their keyed MACs.

use async_trait::async_trait;
use tcauth_core::model::{
    AccessToken, AttemptOutcome, AuthCode, Branding, CallbackDelivery, Client, IssuedTokens,
    OtpChallenge, RefreshToken, SigningKeyRecord, TestNumber, User, UserStatus, VerificationToken,
};
use tcauth_core::secret::TokenHash;

mod columns;
mod migrations;
pub mod postgres;
pub mod sqlite;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer (busy, timed out, unreachable, disk full). Callers answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (duplicate phone number or client id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or corrupt data. Callers answer 500.
    #[error("store error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How long the delivery log keeps a callback delivery after its token expired, in seconds.
pub const DELIVERY_LOG_KEEP: i64 = 86_400;

/// What a store failure means to the token endpoint's grants: an outage is
/// [`TokenError::Unavailable`] (503), anything else [`TokenError::Internal`] (500; a grant
/// writes no row a request could make conflict). Here because both types are foreign to the
/// server; the server's other surfaces read a `StoreError` through its `error::Surface`.
impl From<StoreError> for tcauth_core::TokenError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => tcauth_core::TokenError::Unavailable,
            StoreError::Conflict(m) | StoreError::Internal(m) => {
                tcauth_core::TokenError::Internal(m)
            }
        }
    }
}

/// Outcome of [`Store::redeem_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unconsumed and unexpired; it is now consumed and the tokens are committed.
    Redeemed,
    /// The code had already been consumed (redeemed or burnt). Nothing was written.
    AlreadyConsumed,
    /// No such code, or it expired. Nothing was written.
    NotFound,
}

/// Outcome of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now retired and the new tokens are committed.
    Rotated,
    /// The token had already been used or revoked. Nothing was written.
    AlreadyUsed,
    /// No such token, or it expired. Nothing was written.
    NotFound,
}

/// Outcome of [`Store::check_otp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// The right code: the challenge is now consumed.
    Accepted,
    /// A wrong code: one attempt was spent, `attempts_left` remain (0: the code is now burnt).
    Wrong { attempts_left: u8 },
    /// No attempts were left: nothing was checked, not even a right code.
    Locked,
    /// Unknown, expired, already consumed, or bound to someone else. Nothing was written.
    Expired,
}

/// What a grant reads in one snapshot: the client (if it exists), and the code or token (if it
/// exists) with its user (if that user still exists).
pub type WithClient<T> = (Option<Client>, Option<(T, Option<User>)>);

/// An access token with what userinfo checks alongside it ([`Store::get_access_token_view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenView {
    pub token: AccessToken,
    pub client_exists: bool,
    pub user: Option<User>,
}

/// A write announced with [`Store::announce_write`]. Dropping it withdraws the announcement.
///
/// It holds the backend's guard, whatever that is (the SQLite writer's count of announced
/// writes): the guard is never looked at, only kept alive while the caller prepares its write
/// and dropped with this value, which is what ends the announcement.
#[must_use = "the announcement lasts as long as this value"]
pub struct WriteSoon(#[allow(dead_code)] Option<Box<dyn std::any::Any + Send + Sync>>);

impl WriteSoon {
    /// An announcement that nobody listens to.
    pub fn none() -> WriteSoon {
        WriteSoon(None)
    }

    /// An announcement that lasts as long as `guard` is alive: dropping the `WriteSoon` drops
    /// the guard.
    pub(crate) fn holding(guard: impl std::any::Any + Send + Sync) -> WriteSoon {
        WriteSoon(Some(Box::new(guard)))
    }
}

/// Everything tcauth persists. Times are Unix seconds, passed in by the caller.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Says that the caller will send a write (a redemption, a rotation) shortly, after some
    /// work of its own; drop the value once it is sent, or when it will not be. A backend that
    /// commits in groups may hold a commit open for it, briefly, so that it shares the `fsync`.
    /// Only a hint: nothing waits for longer than the backend's bound, and correctness never
    /// depends on it.
    fn announce_write(&self) -> WriteSoon {
        WriteSoon::none()
    }

    // --- clients -------------------------------------------------------------------------
    /// `Conflict` if the client id exists.
    async fn create_client(&self, client: &Client) -> Result<()>;
    async fn get_client(&self, client_id: &str) -> Result<Option<Client>>;
    /// Ordered by creation time, then id.
    async fn list_clients(&self) -> Result<Vec<Client>>;
    /// Returns whether a client was deleted.
    async fn delete_client(&self, client_id: &str) -> Result<bool>;
    /// Sets (or, with `None`, clears) a client's consent-page branding. Returns whether the
    /// client exists.
    async fn set_client_branding(
        &self,
        client_id: &str,
        branding: Option<&Branding>,
    ) -> Result<bool>;
    /// Replaces every field of the client but its id, app key and creation time (a PATCH
    /// read, changed and written back). Returns whether the client exists.
    async fn update_client(&self, client: &Client) -> Result<bool>;
    /// The client with this app key (§9's `partnerKey`, §10's `appKey`).
    async fn get_client_by_app_key(&self, app_key: &str) -> Result<Option<Client>>;
    /// A value that changes whenever a client is created, changed or deleted: the number of
    /// clients and the latest `updated_at_ms`. Nodes poll it to pick up changes quickly.
    async fn clients_revision(&self) -> Result<(i64, i64)>;
    /// Moves a test client to live (CONTRACT.md §11), moving `updated_at_ms` forward to
    /// `now_ms` (at least 1 ms). Returns whether it moved: `false` if the client does not exist
    /// or is already live. Nothing moves a client back to test.
    async fn set_client_live(&self, client_id: &str, now_ms: i64) -> Result<bool>;

    // --- test numbers (CONTRACT.md §11) ---------------------------------------------------
    /// Registers the test number, or gives an existing one its new code (and `created_at`). Returns whether the
    /// client exists (nothing is written if not).
    async fn put_test_number(&self, test_number: &TestNumber) -> Result<bool>;
    /// The client's test numbers, ordered by number.
    async fn list_test_numbers(&self, client_id: &str) -> Result<Vec<TestNumber>>;
    async fn get_test_number(&self, client_id: &str, e164: &str) -> Result<Option<TestNumber>>;
    /// Returns whether a test number was deleted.
    async fn delete_test_number(&self, client_id: &str, e164: &str) -> Result<bool>;

    // --- users ---------------------------------------------------------------------------
    /// `Conflict` if the phone number (or sub) is taken.
    async fn create_user(&self, user: &User) -> Result<()>;
    /// All or nothing, in one transaction: `Conflict` naming the first taken phone number.
    async fn import_users(&self, users: &[User]) -> Result<()>;
    async fn get_user(&self, sub: i64) -> Result<Option<User>>;
    async fn get_user_by_phone(&self, e164: &str) -> Result<Option<User>>;
    /// At most `limit` users in ascending `sub` order, starting after `after_sub` (from the
    /// first when `None`): one page of a listing whose cursor is the last sub of a page.
    async fn list_users(&self, after_sub: Option<i64>, limit: u32) -> Result<Vec<User>>;
    /// Deletes the profile for good. Tokens already issued stay, and userinfo then answers 404.
    async fn delete_user(&self, sub: i64) -> Result<bool>;
    async fn set_user_status(&self, sub: i64, status: UserStatus) -> Result<bool>;

    // --- authorization codes ---------------------------------------------------------------
    async fn insert_code(&self, code: &AuthCode) -> Result<()>;
    /// The code whatever its state (consumed or expired), or `None`.
    async fn get_code(&self, hash: &TokenHash) -> Result<Option<AuthCode>>;
    /// Marks the code consumed without issuing anything (a failed verifier burns it).
    async fn burn_code(&self, hash: &TokenHash, now: i64) -> Result<()>;
    /// Atomically: if the code exists, is unconsumed and `expires_at > now`, mark it consumed
    /// and insert `tokens`, in one durable transaction.
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Redemption>;

    // --- finished sign-ins -------------------------------------------------------------------
    /// Finishes a browser sign-in (an interaction) for good, so that its cookie cannot finish
    /// it again. `key` is a hash of the interaction's id (never the id itself), kept until
    /// `expires_at`, when [`Store::sweep_expired`] deletes it.
    ///
    /// Atomically, in one durable transaction: if `key` is not recorded, record it and insert
    /// `code` (the authorization code of an Allow; `None` for a Deny) and return `true`; if it
    /// is recorded (even past its `expires_at`, not yet swept), return `false` and write
    /// nothing. The key and the code are committed together or not at all: an error (a code
    /// that cannot be inserted, an outage) leaves the interaction unfinished. Of any number of
    /// concurrent calls with one key, exactly one returns `true`.
    async fn finish_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        code: Option<&AuthCode>,
    ) -> Result<bool>;
    /// Whether [`Store::finish_interaction`] recorded `key` (and it was not swept yet).
    async fn interaction_finished(&self, key: &TokenHash) -> Result<bool>;

    /// Records a single-use `key` (a keyed hash of a Mobile Websites `requestNonce` and its
    /// app key) until `expires_at`: `true` if it was not recorded yet, `false` (nothing
    /// written) if it was. Of any number of concurrent calls with one key, exactly one returns
    /// `true`. It shares the finished interactions' rows and sweeping (the keys are HMACs
    /// under different labels, so they never meet).
    async fn claim_once(&self, key: &TokenHash, expires_at: i64) -> Result<bool> {
        self.finish_interaction(key, expires_at, None).await
    }

    // --- Mobile Websites callbacks (the outbox) -------------------------------------------------
    /// Finishes a Mobile Websites dialog: atomically, in one durable transaction, as
    /// [`Store::finish_interaction`] records `key`, and if it won inserts `token` (the access
    /// token of a Continue; `None` for a reject) and queues `delivery`. All or nothing; `false`
    /// and nothing written if `key` was recorded already.
    async fn finish_web_interaction(
        &self,
        key: &TokenHash,
        expires_at: i64,
        token: Option<&AccessToken>,
        delivery: &CallbackDelivery,
    ) -> Result<bool>;
    /// Leases up to `limit` pending deliveries that are due (`next_attempt_at_ms <= now_ms`)
    /// and not leased (or whose lease ran out), until `lease_until_ms`, oldest due first. A
    /// delivery is leased to one caller at a time, across every node on the store.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<CallbackDelivery>>;
    /// Records one attempt of a pending delivery: one more attempt, and the outcome's status,
    /// error, next attempt or delivery time; the lease is released. Returns `false` (nothing
    /// written) if the delivery is unknown or no longer pending.
    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<bool>;
    /// A client's deliveries, newest first, at most `limit`.
    async fn list_deliveries(&self, client_id: &str, limit: usize)
        -> Result<Vec<CallbackDelivery>>;
    /// How many deliveries are pending (for `/metrics`).
    async fn count_pending_deliveries(&self) -> Result<u64>;

    // --- tokens --------------------------------------------------------------------------
    async fn get_access_token(&self, hash: &TokenHash) -> Result<Option<AccessToken>>;
    async fn get_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>>;
    /// Atomically: if the refresh token exists, is unused, unrevoked and `expires_at > now`,
    /// mark it used and insert `tokens`, in one durable transaction.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Rotation>;
    /// Revokes every access and refresh token of the family.
    async fn revoke_family(&self, family_id: &str) -> Result<()>;
    /// Revokes one access token. Returns whether one was found.
    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool>;

    // --- signing keys ----------------------------------------------------------------------
    /// Newest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds `key` as the one current key. The previous current key stays, no longer current;
    /// keys beyond the newest `keep` are deleted.
    async fn add_signing_key(&self, key: &SigningKeyRecord, keep: usize) -> Result<()>;

    // --- one-time codes and verification tokens -----------------------------------------------
    /// `Conflict` if the id exists.
    async fn insert_otp(&self, otp: &OtpChallenge) -> Result<()>;
    /// The challenge whatever its state, or `None`.
    async fn get_otp(&self, id: &str) -> Result<Option<OtpChallenge>>;
    /// Atomically, in one durable transaction: if the challenge exists, is unconsumed,
    /// `expires_at > now` and has this `binding`: with no attempts left → `Locked`; with the
    /// right MAC (compared in constant time) → consumed, `Accepted`; else one attempt is spent
    /// → `Wrong`. Anything else → `Expired`, nothing written. Of any number of concurrent
    /// checks with the right MAC, exactly one is `Accepted`.
    async fn check_otp(
        &self,
        id: &str,
        binding: &str,
        code_mac: &[u8; 32],
        now: i64,
    ) -> Result<OtpCheck>;
    /// Marks an unconsumed challenge consumed, so no code opens it any more (a failed send, or
    /// a newer code for the same session). Unknown ids are not an error.
    async fn burn_otp(&self, id: &str, now: i64) -> Result<()>;
    /// `Conflict` if the hash exists.
    async fn insert_verification_token(&self, token: &VerificationToken) -> Result<()>;
    /// Atomically: if the token exists, is unused, `expires_at > now` and belongs to
    /// `client_id`, mark it used and return it (with `used_at` set). Else `None`, nothing
    /// written (a token presented by another client stays usable by its own).
    async fn use_verification_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<Option<VerificationToken>>;

    // --- the hot paths' reads, each in one snapshot ------------------------------------------
    // A backend may answer these with one round trip (SQLite: one read transaction); the
    // defaults compose the single-record reads above.

    /// What the code grant reads: the client, and the code (whatever its state) with the user
    /// it was issued to (if that user still exists).
    async fn get_client_and_code(
        &self,
        client_id: &str,
        code: &TokenHash,
    ) -> Result<WithClient<AuthCode>> {
        let client = self.get_client(client_id).await?;
        let Some(code) = self.get_code(code).await? else {
            return Ok((client, None));
        };
        let user = self.get_user(code.sub).await?;
        Ok((client, Some((code, user))))
    }

    /// What the refresh grant reads: the client, and the refresh token (whatever its state)
    /// with its user (if that user still exists).
    async fn get_client_and_refresh_token(
        &self,
        client_id: &str,
        token: &TokenHash,
    ) -> Result<WithClient<RefreshToken>> {
        let client = self.get_client(client_id).await?;
        let Some(rt) = self.get_refresh_token(token).await? else {
            return Ok((client, None));
        };
        let user = self.get_user(rt.sub).await?;
        Ok((client, Some((rt, user))))
    }

    /// What userinfo needs: the access token (whatever its state), whether its client still
    /// exists, and its user, if that user still exists.
    async fn get_access_token_view(&self, hash: &TokenHash) -> Result<Option<AccessTokenView>> {
        let Some(token) = self.get_access_token(hash).await? else {
            return Ok(None);
        };
        let client_exists = self.get_client(&token.client_id).await?.is_some();
        let user = self.get_user(token.sub).await?;
        Ok(Some(AccessTokenView {
            token,
            client_exists,
            user,
        }))
    }

    // --- maintenance -----------------------------------------------------------------------
    /// Deletes at most `batch` expired rows of each kind (codes, access tokens, refresh
    /// tokens, one-time-code challenges, verification tokens, finished interactions) whose
    /// expiry is before `now`, and callback deliveries a day past their expiry (the delivery
    /// log keeps them that long, whatever their status).
    /// Returns how many rows went.
    async fn sweep_expired(&self, now: i64, batch: usize) -> Result<u64>;
}
