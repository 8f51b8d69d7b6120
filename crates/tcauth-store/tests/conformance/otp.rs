//! Conformance checks for one-time-code challenges and verification tokens.

use super::{h, NOW};
use std::sync::Arc;
use tcauth_core::model::{OtpChallenge, OtpPurpose, VerificationToken};
use tcauth_store::{OtpCheck, Store, StoreError};
use tokio::sync::Barrier;

/// The MAC a check presents: any 32 bytes will do for the store, which only compares.
pub fn mac(name: &str) -> [u8; 32] {
    h(name).0
}

pub fn challenge(id: &str, binding: &str, expires_at: i64) -> OtpChallenge {
    OtpChallenge {
        id: id.to_string(),
        purpose: OtpPurpose::Verification,
        phone_e164: "+919876543210".to_string(),
        phone_country: "IN".to_string(),
        binding: binding.to_string(),
        code_mac: mac(&format!("right-{id}")),
        attempts_left: 5,
        created_at: NOW - 10,
        expires_at,
        consumed_at: None,
    }
}

pub fn vtoken(name: &str, client_id: &str, expires_at: i64) -> VerificationToken {
    VerificationToken {
        hash: h(name),
        client_id: client_id.to_string(),
        phone_e164: "+919876543210".to_string(),
        phone_country: "IN".to_string(),
        created_at: NOW - 10,
        expires_at,
        used_at: None,
    }
}

async fn attempts_left(store: &Arc<dyn Store>, id: &str) -> u8 {
    store.get_otp(id).await.unwrap().unwrap().attempts_left
}

pub async fn otp_challenges(store: Arc<dyn Store>) {
    assert_eq!(store.get_otp("nope").await.unwrap(), None);
    let c = challenge("o1", "app", NOW + 300);
    store.insert_otp(&c).await.unwrap();
    assert_eq!(store.get_otp("o1").await.unwrap(), Some(c.clone()));
    let mut login = challenge("o-login", "sess-hash", NOW + 300);
    login.purpose = OtpPurpose::Login;
    login.phone_country = "US".to_string();
    login.phone_e164 = "+14155550123".to_string();
    store.insert_otp(&login).await.unwrap();
    assert_eq!(store.get_otp("o-login").await.unwrap(), Some(login));
    // The same id twice is a conflict, and the original is untouched.
    let mut dup = challenge("o1", "other", NOW + 600);
    dup.code_mac = mac("other");
    assert!(matches!(
        store.insert_otp(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_otp("o1").await.unwrap(), Some(c.clone()));

    // A wrong code spends one attempt.
    assert_eq!(
        store
            .check_otp("o1", "app", &mac("wrong"), NOW)
            .await
            .unwrap(),
        OtpCheck::Wrong { attempts_left: 4 }
    );
    assert_eq!(attempts_left(&store, "o1").await, 4);
    // Another binding (client or browser session): Expired, and no attempt is spent.
    for binding in ["other-app", "", "APP"] {
        assert_eq!(
            store
                .check_otp("o1", binding, &mac("right-o1"), NOW)
                .await
                .unwrap(),
            OtpCheck::Expired
        );
    }
    assert_eq!(attempts_left(&store, "o1").await, 4);
    // The right code: Accepted, consumed.
    assert_eq!(
        store
            .check_otp("o1", "app", &mac("right-o1"), NOW + 1)
            .await
            .unwrap(),
        OtpCheck::Accepted
    );
    let after = store.get_otp("o1").await.unwrap().unwrap();
    assert_eq!(after.consumed_at, Some(NOW + 1));
    assert_eq!(after.attempts_left, 4);
    // Single use: the right code again, or a wrong one, is Expired and writes nothing.
    for m in [mac("right-o1"), mac("wrong")] {
        assert_eq!(
            store.check_otp("o1", "app", &m, NOW + 2).await.unwrap(),
            OtpCheck::Expired
        );
    }
    assert_eq!(store.get_otp("o1").await.unwrap(), Some(after));

    // Unknown id: Expired.
    assert_eq!(
        store
            .check_otp("nope", "app", &mac("right-nope"), NOW)
            .await
            .unwrap(),
        OtpCheck::Expired
    );

    // Expired (expires_at == now counts as expired): Expired, no attempt spent, not consumed.
    store
        .insert_otp(&challenge("o-exp", "app", NOW))
        .await
        .unwrap();
    for m in [mac("right-o-exp"), mac("wrong")] {
        assert_eq!(
            store.check_otp("o-exp", "app", &m, NOW).await.unwrap(),
            OtpCheck::Expired
        );
    }
    assert_eq!(
        store.get_otp("o-exp").await.unwrap(),
        Some(challenge("o-exp", "app", NOW))
    );
    // One second earlier it was still good.
    assert_eq!(
        store
            .check_otp("o-exp", "app", &mac("right-o-exp"), NOW - 1)
            .await
            .unwrap(),
        OtpCheck::Accepted
    );

    // Burning: no code opens it any more; burning again keeps the first time.
    store
        .insert_otp(&challenge("o-burn", "app", NOW + 300))
        .await
        .unwrap();
    store.burn_otp("o-burn", NOW + 3).await.unwrap();
    store.burn_otp("o-burn", NOW + 4).await.unwrap();
    assert_eq!(
        store.get_otp("o-burn").await.unwrap().unwrap().consumed_at,
        Some(NOW + 3)
    );
    assert_eq!(
        store
            .check_otp("o-burn", "app", &mac("right-o-burn"), NOW + 5)
            .await
            .unwrap(),
        OtpCheck::Expired
    );
    store.burn_otp("nope", NOW).await.unwrap();
}

/// Five wrong codes burn the challenge: even the right one is then `Locked`.
pub async fn otp_attempts_run_out(store: Arc<dyn Store>) {
    store
        .insert_otp(&challenge("o", "app", NOW + 300))
        .await
        .unwrap();
    for left in (0..5).rev() {
        assert_eq!(
            store
                .check_otp("o", "app", &mac(&format!("wrong-{left}")), NOW)
                .await
                .unwrap(),
            OtpCheck::Wrong {
                attempts_left: left
            }
        );
    }
    for m in [mac("right-o"), mac("wrong")] {
        assert_eq!(
            store.check_otp("o", "app", &m, NOW + 1).await.unwrap(),
            OtpCheck::Locked
        );
    }
    let o = store.get_otp("o").await.unwrap().unwrap();
    assert_eq!((o.attempts_left, o.consumed_at), (0, None));
    // Locked is only for its own binder; to anyone else it does not exist.
    assert_eq!(
        store
            .check_otp("o", "other", &mac("right-o"), NOW + 1)
            .await
            .unwrap(),
        OtpCheck::Expired
    );
    // And once expired it is just Expired.
    assert_eq!(
        store
            .check_otp("o", "app", &mac("right-o"), NOW + 300)
            .await
            .unwrap(),
        OtpCheck::Expired
    );

    // A challenge stored with fewer attempts starts from there.
    let mut one = challenge("o1", "app", NOW + 300);
    one.attempts_left = 1;
    store.insert_otp(&one).await.unwrap();
    assert_eq!(
        store.check_otp("o1", "app", &mac("x"), NOW).await.unwrap(),
        OtpCheck::Wrong { attempts_left: 0 }
    );
    assert_eq!(
        store
            .check_otp("o1", "app", &mac("right-o1"), NOW)
            .await
            .unwrap(),
        OtpCheck::Locked
    );
}

pub async fn verification_tokens(store: Arc<dyn Store>) {
    let t = vtoken("vt1", "app", NOW + 600);
    store.insert_verification_token(&t).await.unwrap();
    assert!(matches!(
        store.insert_verification_token(&t).await,
        Err(StoreError::Conflict(_))
    ));
    // Another client: None, and the token stays usable by its own client.
    assert_eq!(
        store
            .use_verification_token(&h("vt1"), "other", NOW)
            .await
            .unwrap(),
        None
    );
    // Its client: the token, now used.
    assert_eq!(
        store
            .use_verification_token(&h("vt1"), "app", NOW + 1)
            .await
            .unwrap(),
        Some(VerificationToken {
            used_at: Some(NOW + 1),
            ..t.clone()
        })
    );
    // Single use.
    assert_eq!(
        store
            .use_verification_token(&h("vt1"), "app", NOW + 2)
            .await
            .unwrap(),
        None
    );
    // Unknown.
    assert_eq!(
        store
            .use_verification_token(&h("nope"), "app", NOW)
            .await
            .unwrap(),
        None
    );
    // Expired (expires_at == now counts as expired), and stays unused.
    store
        .insert_verification_token(&vtoken("vt-exp", "app", NOW))
        .await
        .unwrap();
    assert_eq!(
        store
            .use_verification_token(&h("vt-exp"), "app", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_verification_token(&h("vt-exp"), "app", NOW - 1)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(Some(NOW - 1))
    );
}

/// The sweeper removes expired challenges and verification tokens, consumed or not.
pub async fn otp_sweep(store: Arc<dyn Store>) {
    for i in 0..3 {
        store
            .insert_otp(&challenge(&format!("old-{i}"), "app", NOW - 1 - i))
            .await
            .unwrap();
    }
    store
        .insert_otp(&challenge("live", "app", NOW))
        .await
        .unwrap();
    store.burn_otp("old-0", NOW - 50).await.unwrap();
    for i in 0..2 {
        store
            .insert_verification_token(&vtoken(&format!("vt-old-{i}"), "app", NOW - 1))
            .await
            .unwrap();
    }
    store
        .insert_verification_token(&vtoken("vt-live", "app", NOW))
        .await
        .unwrap();

    // batch=2: 2 challenges + 2 tokens; then the last old challenge.
    assert_eq!(store.sweep_expired(NOW, 2).await.unwrap(), 4);
    assert_eq!(store.sweep_expired(NOW, 2).await.unwrap(), 1);
    assert_eq!(store.sweep_expired(NOW, 2).await.unwrap(), 0);
    for i in 0..3 {
        assert_eq!(store.get_otp(&format!("old-{i}")).await.unwrap(), None);
    }
    assert!(store.get_otp("live").await.unwrap().is_some());
    assert!(store
        .use_verification_token(&h("vt-live"), "app", NOW - 1)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.sweep_expired(NOW + 1, 100).await.unwrap(), 2);
    assert_eq!(store.get_otp("live").await.unwrap(), None);
}

/// 20 concurrent checks of one challenge with the right code: exactly one is accepted. Then
/// 20 concurrent wrong codes on a fresh challenge: exactly five attempts are spent.
pub async fn concurrent_otp_check(store: Arc<dyn Store>) {
    const RACERS: usize = 20;
    store
        .insert_otp(&challenge("race", "app", NOW + 300))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .check_otp("race", "app", &mac("right-race"), NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let accepted = outcomes
        .iter()
        .filter(|o| **o == OtpCheck::Accepted)
        .count();
    let expired = outcomes.iter().filter(|o| **o == OtpCheck::Expired).count();
    assert_eq!((accepted, expired), (1, RACERS - 1), "{outcomes:?}");

    store
        .insert_otp(&challenge("race2", "app", NOW + 300))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|j| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .check_otp("race2", "app", &mac(&format!("wrong-{j}")), NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut lefts = Vec::new();
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            OtpCheck::Wrong { attempts_left } => lefts.push(attempts_left),
            OtpCheck::Locked => locked += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    lefts.sort_unstable();
    assert_eq!(lefts, vec![0, 1, 2, 3, 4]);
    assert_eq!(locked, RACERS - 5);
}

/// 20 concurrent reads of one verification token: exactly one gets it.
pub async fn concurrent_verification_token_use(store: Arc<dyn Store>) {
    const RACERS: usize = 20;
    store
        .insert_verification_token(&vtoken("vt", "app", NOW + 600))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .use_verification_token(&h("vt"), "app", NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut got = 0;
    for t in tasks {
        got += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(got, 1);
}
