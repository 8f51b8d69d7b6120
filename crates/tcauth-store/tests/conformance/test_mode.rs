//! Test mode (CONTRACT.md §11): a client's mode, the one-way move to live, and its test numbers.

use super::*;
use tcauth_core::model::{ClientMode, TestNumber};

fn number(client_id: &str, e164: &str, otp: &str) -> TestNumber {
    TestNumber {
        client_id: client_id.to_string(),
        phone_e164: e164.to_string(),
        otp: otp.to_string(),
        created_at: NOW,
    }
}

pub async fn client_modes(store: Arc<dyn Store>) {
    let live = client("live", NOW);
    assert_eq!(live.mode, ClientMode::Live);
    store.create_client(&live).await.unwrap();
    let mut test = client("test", NOW);
    test.mode = ClientMode::Test;
    store.create_client(&test).await.unwrap();
    assert_eq!(
        store.get_client("test").await.unwrap().unwrap().mode,
        ClientMode::Test
    );
    assert_eq!(
        store.get_client("live").await.unwrap().unwrap().mode,
        ClientMode::Live
    );

    // An update (a PATCH) never changes the mode, whatever the record says.
    let mut changed = test.clone();
    changed.name = "Renamed".into();
    changed.mode = ClientMode::Live;
    changed.updated_at_ms += 5;
    assert!(store.update_client(&changed).await.unwrap());
    let got = store.get_client("test").await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.mode), ("Renamed", ClientMode::Test));

    // To live once; the revision moves; a second time, a live client or a missing one: no.
    let before = store.clients_revision().await.unwrap();
    let at = got.updated_at_ms;
    assert!(store.set_client_live("test", at).await.unwrap());
    let got = store.get_client("test").await.unwrap().unwrap();
    assert_eq!(got.mode, ClientMode::Live);
    assert_eq!(got.updated_at_ms, at + 1, "moves forward by at least 1 ms");
    assert_ne!(store.clients_revision().await.unwrap(), before);
    assert!(!store.set_client_live("test", at + 100).await.unwrap());
    assert!(!store.set_client_live("live", at + 100).await.unwrap());
    assert!(!store.set_client_live("nobody", at + 100).await.unwrap());
    let again = store.get_client("test").await.unwrap().unwrap();
    assert_eq!(
        again.updated_at_ms,
        at + 1,
        "an unchanged client keeps its time"
    );
    let listed = store.list_clients().await.unwrap();
    assert!(listed.iter().all(|c| c.mode == ClientMode::Live));
}

pub async fn test_numbers(store: Arc<dyn Store>) {
    let mut a = client("a", NOW);
    a.mode = ClientMode::Test;
    store.create_client(&a).await.unwrap();
    store.create_client(&client("b", NOW)).await.unwrap();

    assert!(store.list_test_numbers("a").await.unwrap().is_empty());
    assert!(!store
        .put_test_number(&number("nobody", "+919876543210", "000000"))
        .await
        .unwrap());
    assert!(store.list_test_numbers("nobody").await.unwrap().is_empty());

    let x = number("a", "+919876543210", "123456");
    let y = number("a", "+14155550100", "000000");
    assert!(store.put_test_number(&x).await.unwrap());
    assert!(store.put_test_number(&y).await.unwrap());
    // The same number for another client is another test number.
    assert!(store
        .put_test_number(&number("b", "+919876543210", "654321"))
        .await
        .unwrap());
    assert_eq!(
        store.list_test_numbers("a").await.unwrap(),
        vec![y.clone(), x.clone()]
    );
    assert_eq!(
        store.get_test_number("a", "+919876543210").await.unwrap(),
        Some(x.clone())
    );
    assert_eq!(
        store
            .get_test_number("b", "+919876543210")
            .await
            .unwrap()
            .unwrap()
            .otp,
        "654321"
    );
    assert_eq!(
        store.get_test_number("a", "+919800000000").await.unwrap(),
        None
    );

    // Registering it again replaces its code, keeps one row.
    let x2 = number("a", "+919876543210", "999999");
    assert!(store.put_test_number(&x2).await.unwrap());
    assert_eq!(
        store.list_test_numbers("a").await.unwrap(),
        vec![y.clone(), x2]
    );

    assert!(store.delete_test_number("a", "+14155550100").await.unwrap());
    assert!(!store.delete_test_number("a", "+14155550100").await.unwrap());
    assert_eq!(store.list_test_numbers("a").await.unwrap().len(), 1);

    // Deleting the client takes its test numbers with it.
    assert!(store.delete_client("a").await.unwrap());
    assert!(store.list_test_numbers("a").await.unwrap().is_empty());
    assert_eq!(
        store.get_test_number("a", "+919876543210").await.unwrap(),
        None
    );
    assert_eq!(store.list_test_numbers("b").await.unwrap().len(), 1);
}
