//! Conformance check for a client's consent-page branding.

use super::{client, NOW};
use std::sync::Arc;
use tcauth_core::model::{Branding, ButtonShape, ButtonText, Client, Heading};
use tcauth_store::Store;

pub async fn client_branding(store: Arc<dyn Store>) {
    let c = client("a", NOW);
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("a").await.unwrap().unwrap().branding, None);

    let b = Branding {
        heading: Heading::SignUpWith,
        button_text: ButtonText::Continue,
        button_color: Some("#0b6e4f".into()),
        button_shape: ButtonShape::Rectangle,
        privacy_url: Some("https://a.example/privacy?\"q\"".into()),
        terms_url: None,
    };
    assert!(store.set_client_branding("a", Some(&b)).await.unwrap());
    let got = store.get_client("a").await.unwrap().unwrap();
    assert_eq!(got.branding.as_ref(), Some(&b));
    assert_eq!(
        got,
        Client {
            branding: Some(b.clone()),
            ..c.clone()
        }
    );
    assert_eq!(
        store.list_clients().await.unwrap()[0].branding.as_ref(),
        Some(&b)
    );

    // Created with branding, kept as given.
    let mut d = client("d", NOW);
    d.branding = Some(Branding::default());
    store.create_client(&d).await.unwrap();
    assert_eq!(store.get_client("d").await.unwrap(), Some(d));

    // Cleared; unknown clients are reported, not created.
    assert!(store.set_client_branding("a", None).await.unwrap());
    assert_eq!(store.get_client("a").await.unwrap(), Some(c));
    assert!(!store.set_client_branding("nope", Some(&b)).await.unwrap());
    assert_eq!(store.get_client("nope").await.unwrap(), None);
}
