//! The validation rules, one test per field family.

use super::*;
use crate::model::{Branding, ButtonShape, ButtonText, GrantType, Heading};

fn client() -> NewClient {
    NewClient {
        name: "Shop".into(),
        redirect_uris: vec!["https://shop.example/cb".into()],
        scopes: vec!["openid".into(), "phone".into()],
        grant_types: vec!["authorization_code".into()],
        rate_limit: None,
        branding: None,
        callback_url: None,
        package_name: None,
        mode: None,
    }
}

#[test]
fn new_clients_get_an_app_key_and_a_callback_salt_only_with_a_callback() {
    let a = client().validate("a".into(), 5).unwrap();
    let b = client().validate("b".into(), 5).unwrap();
    assert_eq!(a.app_key.len(), 32);
    assert!(a.app_key.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.app_key, b.app_key);
    assert_eq!((a.callback_url, a.callback_salt), (None, None));
    assert_eq!(a.updated_at_ms, 5000);
    let mut n = client();
    n.callback_url = Some("https://shop.example/tc".into());
    n.package_name = Some("com.shop.app".into());
    let c = n.validate("c".into(), 5).unwrap();
    assert_eq!(c.callback_url.as_deref(), Some("https://shop.example/tc"));
    assert_eq!(c.callback_salt.as_ref().map(String::len), Some(32));
    assert_eq!(c.package_name.as_deref(), Some("com.shop.app"));
}

#[test]
fn callback_urls() {
    for ok in [
        "https://shop.example/truecaller/callback",
        "https://shop.example:8443/cb?x=1",
        "http://127.0.0.1:9000/cb",
        "http://localhost:9000/cb",
        "http://LOCALHOST/cb",
        "http://[::1]:9000/cb",
        "https://10.0.0.1/cb",
    ] {
        assert_eq!(check_callback_url(ok), Ok(()), "{ok}");
    }
    for (bad, why) in [
        ("", "1–2048"),
        ("http://shop.example/cb", "loopback"),
        ("ftp://shop.example/cb", "https URL"),
        ("com.shop.app:/cb", "https URL"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/cb", "link-local"),
        ("https://user:pw@shop.example/cb", "user information"),
        ("https://shop.example/cb#x", "fragment"),
        ("https://shop.example/a b", "white space"),
        ("https:///cb", "host"),
    ] {
        let e = check_callback_url(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn package_names() {
    for ok in ["com.example.app", "in.shop_1.App2", "a.b"] {
        assert_eq!(check_package_name(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "app",
        "com..app",
        "1com.app",
        "com.app-x",
        "com.app.",
        ".com.app",
    ] {
        assert!(check_package_name(bad).is_err(), "{bad}");
    }
    assert!(check_package_name(&format!("a.{}", "b".repeat(254))).is_err());
}

#[test]
fn patches_change_only_what_they_name_and_check_it_as_creation_does() {
    let mut c = client().validate("id".into(), 5).unwrap();
    let before = c.clone();
    let p: ClientPatch =
        serde_json::from_str(r#"{"name":"Shop 2","callback_url":"https://shop.example/tc"}"#)
            .unwrap();
    assert_eq!(p.apply(&mut c, 9000), Ok(true));
    assert_eq!(c.name, "Shop 2");
    assert_eq!(c.callback_url.as_deref(), Some("https://shop.example/tc"));
    let salt = c.callback_salt.clone().unwrap();
    assert_eq!(c.updated_at_ms, 9000);
    assert_eq!(
        (c.app_key.as_str(), c.created_at),
        (before.app_key.as_str(), 5)
    );
    assert_eq!(c.redirect_uris, before.redirect_uris);
    // Setting the URL again draws a new salt; the clock never goes back.
    let p: ClientPatch =
        serde_json::from_str(r#"{"callback_url":"https://shop.example/tc"}"#).unwrap();
    assert_eq!(p.apply(&mut c, 100), Ok(true));
    assert_ne!(c.callback_salt.as_deref(), Some(salt.as_str()));
    assert_eq!(c.updated_at_ms, 9001);
    // null clears; a bad field changes nothing.
    let p: ClientPatch =
        serde_json::from_str(r#"{"callback_url":null,"rate_limit":null}"#).unwrap();
    assert_eq!(p.apply(&mut c, 9100), Ok(false));
    assert_eq!(
        (c.callback_url.as_deref(), c.callback_salt.as_deref()),
        (None, None)
    );
    let snapshot = c.clone();
    let p: ClientPatch = serde_json::from_str(r#"{"name":"ok","package_name":"nope"}"#).unwrap();
    assert_eq!(p.apply(&mut c, 9200).unwrap_err().field, "package_name");
    assert_eq!(c, snapshot);
    let p: ClientPatch =
        serde_json::from_str(r#"{"redirect_uris":["http://shop.example/cb"]}"#).unwrap();
    assert_eq!(p.apply(&mut c, 9300).unwrap_err().field, "redirect_uris[0]");
    assert!(serde_json::from_str::<ClientPatch>(r#"{"app_key":"x"}"#).is_err());
}

#[test]
fn valid_client() {
    let c = client().validate("id".into(), 5).unwrap();
    assert_eq!(c.scopes.to_string(), "openid phone");
    assert_eq!(c.grant_types, vec![GrantType::AuthorizationCode]);
}

#[test]
fn client_errors_name_the_field() {
    let mut c = client();
    c.redirect_uris = vec![
        "https://ok.example/cb".into(),
        "http://evil.example/".into(),
    ];
    assert_eq!(
        c.validate("id".into(), 0).unwrap_err().field,
        "redirect_uris[1]"
    );
    let mut c = client();
    c.scopes = vec!["root".into()];
    assert_eq!(c.validate("id".into(), 0).unwrap_err().field, "scopes");
    let mut c = client();
    c.grant_types = vec!["password".into()];
    assert_eq!(c.validate("id".into(), 0).unwrap_err().field, "grant_types");
}

#[test]
fn redirect_uris_accepted() {
    for ok in [
        "https://a.example/cb",
        "https://a.example",
        "https://a.example:8443/cb?tenant=7&x=%2F",
        "https://A.Example/cb/",
        "HTTPS://a.example/cb",
        "https://192.0.2.1/cb",
        "https://[2001:db8::1]:443/cb",
        "https://a-b.c.example/p;x=1/(y)/~z/@/:",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:5000/cb",
        "http://127.0.0.1",
        "http://[::1]:8080/cb",
        "com.example.app:/oauth2redirect/example-provider",
        "com.example.app:/oauth",
        "com.example.app:/",
        "com.example-shop.app+x:/cb?x=1",
        "Com.Example.App:/cb",
    ] {
        assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
    }
}

#[test]
fn redirect_uris_refused() {
    // (URI, a word the message must contain)
    for (bad, why) in [
        ("", "characters"),
        ("/relative", "absolute"),
        ("cb", "absolute"),
        ("a.example/cb", "absolute"),
        ("//a.example/cb", "absolute"),
        (":/cb", "absolute"),
        ("1com.example.app:/cb", "absolute"),
        ("https://a.example/cb#frag", "fragment"),
        ("https://a.example/cb#", "fragment"),
        ("com.example.app:/cb#x", "fragment"),
        ("https://u:p@a.example/cb", "user information"),
        ("https://u@a.example/cb", "user information"),
        ("https://@a.example/cb", "user information"),
        ("http://u@127.0.0.1/cb", "user information"),
        ("https:", "host"),
        ("https:/a.example/cb", "host"),
        ("https:///cb", "host"),
        ("https://:443/cb", "host"),
        ("https://a_b.example/cb", "host"),
        ("https://a.example;x/cb", "host"),
        ("https://[::1/cb", "host"),
        ("https://[zz::1]/cb", "host"),
        ("https://a.example:/cb", "port"),
        ("https://a.example:0/cb", "port"),
        ("https://a.example:65536/cb", "port"),
        ("https://a.example:8x/cb", "port"),
        ("http://example.com/cb", "loopback"),
        ("http://localhost/cb", "loopback"),
        ("http://localhost:8080/cb", "loopback"),
        ("http://127.0.0.2/cb", "loopback"),
        ("http://127.0.0.1.evil.example/cb", "loopback"),
        ("http://[::2]/cb", "loopback"),
        ("http:/127.0.0.1/cb", "host"),
        ("javascript:alert(1)", "not allowed"),
        ("JavaScript:alert(1)", "not allowed"),
        ("data:text/html,x", "not allowed"),
        ("file:///etc/passwd", "not allowed"),
        ("vbscript:x", "not allowed"),
        ("ftp://a.example/cb", "private-use"),
        ("myapp:/cb", "private-use"),
        ("com..app:/cb", "private-use"),
        (".com.app:/cb", "absolute"),
        ("com.app.:/cb", "private-use"),
        ("com.example.app:cb", "com.example.app:/"),
        ("com.example.app://cb", "com.example.app:/"),
        ("com.example.app:", "com.example.app:/"),
        ("https://a.example/ cb", "white space"),
        ("https://a.example/\tcb", "white space"),
        ("https://a.example/c\u{0}b", "white space"),
        ("https://a.example/<cb>", "character"),
        ("https://a.example/\"cb", "character"),
        ("https://a.example/c%zzb", "percent"),
        ("https://a.example/cb%4", "percent"),
        ("https://a.example/caf\u{e9}", "character"),
    ] {
        match check_redirect_uri(bad) {
            Ok(()) => panic!("{bad:?} was accepted"),
            Err(m) => assert!(m.contains(why), "{bad:?}: {m:?} should mention {why:?}"),
        }
    }
    let long = format!("https://a.example/{}", "x".repeat(MAX_URI));
    assert!(check_redirect_uri(&long).is_err());
}

#[test]
fn genders() {
    let with = |g: &str| NewUser {
        phone_number: "+919876543210".into(),
        gender: Some(g.into()),
        ..NewUser::default()
    };
    for (given, stored) in [
        ("female", Some("female")),
        ("male", Some("male")),
        ("other", Some("other")),
        (" Female ", Some("female")),
        ("MALE", Some("male")),
        ("", None),
        ("  ", None),
    ] {
        let u = with(given).validate(1, 1).unwrap();
        assert_eq!(u.gender.as_deref(), stored, "{given:?}");
    }
    for bad in [
        "attack",
        "f",
        "M",
        "NotSet",
        "female ,male",
        "femme",
        "x".repeat(100).as_str(),
    ] {
        let e = with(bad).validate(1, 1).unwrap_err();
        assert_eq!(e.field, "gender", "{bad:?}");
        assert_eq!(e.message, "must be female, male or other", "{bad:?}");
    }
}

#[test]
fn pictures() {
    let with = |p: &str| NewUser {
        phone_number: "+919876543210".into(),
        picture: Some(p.into()),
        ..NewUser::default()
    };
    for ok in [
        "https://img.example/asha.png",
        "https://img.example:8443/a/b.png?size=200",
        "https://img.example/a.png#x",
    ] {
        let u = with(ok).validate(1, 1).unwrap();
        assert_eq!(u.picture.as_deref(), Some(ok));
    }
    for bad in [
        "http://img.example/a.png",
        "img.example/a.png",
        "/a.png",
        "https://",
        "https:///a.png",
        "https://u:p@img.example/a.png",
        "https://img.example/a b.png",
        "https://img.example/\"><script>",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "ftp://img.example/a.png",
        "https://img_example/a.png",
    ] {
        let e = with(bad).validate(1, 1).unwrap_err();
        assert_eq!(e.field, "picture", "{bad:?}");
    }
}

#[test]
fn users() {
    let u = NewUser {
        phone_number: "+91 98765 43210".into(),
        given_name: Some(" Asha ".into()),
        email: Some(String::new()),
        ..NewUser::default()
    }
    .validate(7, 1)
    .unwrap();
    assert_eq!(u.phone_e164, "+919876543210");
    assert_eq!(u.given_name.as_deref(), Some("Asha"));
    assert_eq!(u.email, None);
    let bad = NewUser {
        phone_number: "12".into(),
        ..NewUser::default()
    };
    assert_eq!(bad.validate(1, 1).unwrap_err().field, "phone_number");
}

#[test]
fn branding() {
    let b = NewBranding::default().validate().unwrap();
    assert_eq!(b, Branding::default());
    assert_eq!(b.heading.words(), "Login to");
    assert_eq!(b.button_text.words(), "Allow");
    let b = NewBranding {
        heading: Some("sign_up_with".into()),
        button_text: Some("accept".into()),
        button_color: Some("#1A73E8".into()),
        button_shape: Some("rectangle".into()),
        privacy_url: Some("https://shop.example/privacy".into()),
        terms_url: Some("https://shop.example/terms?v=2".into()),
    }
    .validate()
    .unwrap();
    assert_eq!(b.heading, Heading::SignUpWith);
    assert_eq!(b.button_text, ButtonText::Accept);
    assert_eq!(b.button_color.as_deref(), Some("#1a73e8"));
    assert_eq!(b.button_shape, ButtonShape::Rectangle);
    let field = |nb: NewBranding| nb.validate().unwrap_err().field;
    let nb = |f: fn(&mut NewBranding)| {
        let mut b = NewBranding::default();
        f(&mut b);
        b
    };
    assert_eq!(field(nb(|b| b.heading = Some("hello".into()))), "heading");
    assert_eq!(
        field(nb(|b| b.button_text = Some("Allow".into()))),
        "button_text"
    );
    assert_eq!(
        field(nb(|b| b.button_shape = Some("round".into()))),
        "button_shape"
    );
    assert_eq!(
        field(nb(|b| b.button_color = Some(String::new()))),
        "button_color"
    );
    for c in [
        "1a73e8",
        "#1a73e",
        "#1a73e8f",
        "#gggggg",
        "red",
        "#1a73e8;x",
    ] {
        let b = NewBranding {
            button_color: Some(c.into()),
            ..NewBranding::default()
        };
        assert_eq!(field(b), "button_color", "{c}");
    }
    for u in [
        "http://shop.example/p",
        "https://",
        "https:///p",
        "javascript:alert(1)",
        "https://shop.example/a b",
        "https://shop.example/\"><script>",
        "https://user@evil.example/",
    ] {
        let b = NewBranding {
            privacy_url: Some(u.into()),
            ..NewBranding::default()
        };
        assert_eq!(field(b), "privacy_url", "{u}");
    }
    // Serialised form (the admin API and the store): defaults spelled out, absent links left out.
    let json = serde_json::to_value(Branding::default()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"heading":"login_to","button_text":"allow","button_shape":"rounded"})
    );
}

#[test]
fn ids() {
    let id = new_client_id();
    assert_eq!(id.len(), 24);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert!(new_sub() > 0 && new_sub() < (1 << 53));
}

#[test]
fn clients_are_live_unless_created_in_test_mode() {
    use crate::model::ClientMode;
    assert_eq!(
        client().validate("a".into(), 5).unwrap().mode,
        ClientMode::Live
    );
    let mut n = client();
    n.mode = Some("test".into());
    assert_eq!(n.validate("a".into(), 5).unwrap().mode, ClientMode::Test);
    let mut n = client();
    n.mode = Some("prod".into());
    assert_eq!(n.validate("a".into(), 5).unwrap_err().field, "mode");
}

#[test]
fn test_numbers_are_normalised_and_their_code_is_six_digits() {
    let t = NewTestNumber {
        phone_number: "+91 98765 43210".into(),
        otp: None,
    }
    .validate("c", 7)
    .unwrap();
    assert_eq!(
        (t.phone_e164.as_str(), t.otp.as_str()),
        ("+919876543210", "000000")
    );
    for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦", ""] {
        let e = NewTestNumber {
            phone_number: "+919876543210".into(),
            otp: Some(bad.into()),
        }
        .validate("c", 7)
        .unwrap_err();
        assert_eq!(e.field, "otp", "{bad}");
    }
    let e = NewTestNumber {
        phone_number: "12".into(),
        otp: None,
    }
    .validate("c", 7)
    .unwrap_err();
    assert_eq!(e.field, "phone_number");
}
