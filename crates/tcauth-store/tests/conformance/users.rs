//! Conformance checks for users: one by one, and imported in batches.

use super::{assert_conflict, full_user, user};
use std::sync::Arc;
use tcauth_core::model::{Address, User, UserStatus};
use tcauth_store::{Store, StoreError};

pub async fn users_crud(store: Arc<dyn Store>) {
    assert_eq!(store.get_user(1).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        None
    );

    let u = full_user(1, "+919876543210");
    let mut bare = user(2, "+14155550123");
    bare.phone_country = "US".to_string();
    bare.phone_verified = false;
    bare.given_name = None;
    bare.email = None;
    bare.gender = None;
    bare.address = Some(Address::default());
    store.create_user(&u).await.unwrap();
    store.create_user(&bare).await.unwrap();

    assert_eq!(store.get_user(1).await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_user(2).await.unwrap(), Some(bare.clone()));
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        Some(u.clone())
    );

    // Same phone, other sub: Conflict naming the phone number.
    assert_conflict(
        store.create_user(&user(3, "+919876543210")).await,
        "+919876543210",
    );
    assert_eq!(store.get_user(3).await.unwrap(), None);
    // Same sub, other phone: Conflict too.
    assert!(matches!(
        store.create_user(&user(1, "+919999999999")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_user_by_phone("+919999999999").await.unwrap(),
        None
    );

    // Status changes.
    assert!(store.set_user_status(1, UserStatus::Blocked).await.unwrap());
    assert_eq!(
        store.get_user(1).await.unwrap().unwrap().status,
        UserStatus::Blocked
    );
    assert!(store.set_user_status(1, UserStatus::Active).await.unwrap());
    assert_eq!(store.get_user(1).await.unwrap(), Some(u.clone()));
    assert!(!store
        .set_user_status(99, UserStatus::Blocked)
        .await
        .unwrap());

    // Delete: gone for good, and the phone number is free again.
    assert!(store.delete_user(1).await.unwrap());
    assert!(!store.delete_user(1).await.unwrap());
    assert_eq!(store.get_user(1).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_phone("+919876543210").await.unwrap(),
        None
    );
    assert_eq!(store.get_user(2).await.unwrap(), Some(bare));
    store.create_user(&user(4, "+919876543210")).await.unwrap();
    assert_eq!(
        store
            .get_user_by_phone("+919876543210")
            .await
            .unwrap()
            .unwrap()
            .sub,
        4
    );
}

pub async fn users_import_all_or_nothing(store: Arc<dyn Store>) {
    store.create_user(&user(1, "+911111111111")).await.unwrap();

    // A batch whose third user takes an existing number: nobody is inserted.
    let batch = vec![
        user(10, "+912222222222"),
        user(11, "+913333333333"),
        user(12, "+911111111111"),
        user(13, "+914444444444"),
    ];
    assert_conflict(store.import_users(&batch).await, "+911111111111");
    for u in &batch[..2] {
        assert_eq!(store.get_user(u.sub).await.unwrap(), None);
        assert_eq!(store.get_user_by_phone(&u.phone_e164).await.unwrap(), None);
    }
    assert_eq!(store.get_user(13).await.unwrap(), None);

    // A batch with a duplicate within itself: nobody, and the message names that number.
    let batch = vec![
        user(20, "+915555555555"),
        user(21, "+916666666666"),
        user(22, "+915555555555"),
    ];
    assert_conflict(store.import_users(&batch).await, "+915555555555");
    assert_eq!(store.get_user(20).await.unwrap(), None);
    assert_eq!(store.get_user(21).await.unwrap(), None);

    // The first conflicting number is the one named.
    let batch = vec![
        user(30, "+917777777777"),
        user(31, "+911111111111"),
        user(32, "+917777777777"),
    ];
    assert_conflict(store.import_users(&batch).await, "+911111111111");

    // A clean batch: everyone.
    let batch: Vec<User> = (0..50)
        .map(|i| user(100 + i, &format!("+9180000000{i:02}")))
        .collect();
    store.import_users(&batch).await.unwrap();
    for u in &batch {
        assert_eq!(store.get_user(u.sub).await.unwrap().as_ref(), Some(u));
    }
    // An empty batch is fine.
    store.import_users(&[]).await.unwrap();
    assert_eq!(
        store.get_user(1).await.unwrap(),
        Some(user(1, "+911111111111"))
    );
}

/// `list_users`: pages in ascending sub order, the cursor is the last sub of a page, a deleted
/// user drops out, and an empty store or a cursor past the end gives an empty page.
pub async fn users_listed_in_pages(store: Arc<dyn Store>) {
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![]);
    // Created out of order: the listing sorts by sub, not by creation.
    let subs = [40_i64, 7, 9_007_199_254_740_993, 12, 3];
    for (i, sub) in subs.iter().enumerate() {
        store
            .create_user(&user(*sub, &format!("+9198765432{i:02}")))
            .await
            .unwrap();
    }
    let full = full_user(25, "+14155550123");
    store.create_user(&full).await.unwrap();

    let all = store.list_users(None, 100).await.unwrap();
    let listed: Vec<i64> = all.iter().map(|u| u.sub).collect();
    assert_eq!(listed, vec![3, 7, 12, 25, 40, 9_007_199_254_740_993]);
    // Every column comes back as get_user gives it.
    assert_eq!(all[3], full);
    for u in &all {
        assert_eq!(store.get_user(u.sub).await.unwrap().as_ref(), Some(u));
    }

    let page = |after: Option<i64>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_users(after, limit)
                .await
                .unwrap()
                .iter()
                .map(|u| u.sub)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(page(None, 2).await, vec![3, 7]);
    assert_eq!(page(Some(7), 2).await, vec![12, 25]);
    assert_eq!(page(Some(25), 2).await, vec![40, 9_007_199_254_740_993]);
    assert_eq!(
        page(Some(9_007_199_254_740_993), 2).await,
        Vec::<i64>::new()
    );
    // A cursor need not be a sub that exists (the user may have been deleted since).
    assert_eq!(page(Some(8), 1).await, vec![12]);
    assert_eq!(page(None, 0).await, Vec::<i64>::new());

    assert!(store.delete_user(12).await.unwrap());
    assert_eq!(page(Some(7), 2).await, vec![25, 40]);
}
