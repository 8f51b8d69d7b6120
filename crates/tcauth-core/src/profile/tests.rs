//! Every mapping of the two profile shapes, for a full and a minimal user.

use super::*;
use crate::model::{Address, UserStatus};
use serde_json::{json, Value};

fn full() -> User {
    User {
        sub: 4242,
        phone_e164: "+919876543210".into(),
        phone_country: "IN".into(),
        phone_verified: true,
        given_name: Some("Asha".into()),
        family_name: Some("Rao".into()),
        email: Some("asha@example.com".into()),
        picture: Some("https://img.example/asha.png".into()),
        gender: Some("female".into()),
        address: Some(Address {
            street_address: Some("1 MG Road".into()),
            locality: Some("Pune".into()),
            region: Some("MH".into()),
            postal_code: Some("411001".into()),
            country: Some("IN".into()),
        }),
        status: UserStatus::Active,
        created_at: 1_700_000_000,
    }
}

fn minimal() -> User {
    User {
        sub: 7,
        phone_e164: "+14155550123".into(),
        phone_country: "US".into(),
        phone_verified: true,
        given_name: None,
        family_name: None,
        email: None,
        picture: None,
        gender: None,
        address: None,
        status: UserStatus::Active,
        created_at: 1_600_000_000,
    }
}

fn web(u: &User) -> Value {
    serde_json::to_value(web_profile(u)).unwrap()
}

fn sdk(u: &User, package: Option<&str>) -> Value {
    serde_json::to_value(sdk_profile(
        u,
        "0123456789abcdef0123456789abcdef",
        package,
        "nonce-123",
        1_700_000_500,
    ))
    .unwrap()
}

#[test]
fn web_profile_of_a_full_user() {
    assert_eq!(
        web(&full()),
        json!({
            "id": "4242",
            "userId": 4242,
            "phoneNumbers": [919876543210u64],
            "name": {"first": "Asha", "last": "Rao"},
            "addresses": [{"countryCode": "in", "city": "Pune", "street": "1 MG Road", "zipcode": "411001"}],
            "avatarUrl": "https://img.example/asha.png",
            "onlineIdentities": {"email": "asha@example.com"},
            "gender": "Female",
            "isActive": true,
            "type": "Personal",
            "badges": [],
            "createdTime": 1_700_000_000_000i64,
            "history": {"name": {"updateTime": 1_700_000_000_000i64}},
        })
    );
}

#[test]
fn web_profile_of_a_minimal_user_leaves_unset_attributes_out() {
    assert_eq!(
        web(&minimal()),
        json!({
            "id": "7",
            "userId": 7,
            "phoneNumbers": [14155550123u64],
            "gender": "NotSet",
            "isActive": true,
            "type": "Personal",
            "badges": [],
            "createdTime": 1_600_000_000_000i64,
        })
    );
}

#[test]
fn web_profile_members_are_in_truecallers_order() {
    let text = serde_json::to_string(&web_profile(&full())).unwrap();
    let keys = [
        "\"id\"",
        "\"userId\"",
        "\"phoneNumbers\"",
        "\"name\"",
        "\"addresses\"",
        "\"avatarUrl\"",
        "\"onlineIdentities\"",
        "\"gender\"",
        "\"isActive\"",
        "\"type\"",
        "\"badges\"",
        "\"createdTime\"",
        "\"history\"",
    ];
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn genders_map_to_both_vocabularies() {
    for (stored, w, s) in [
        (Some("male"), "Male", "M"),
        (Some("female"), "Female", "F"),
        (Some("other"), "NotSet", "N"),
        (None, "NotSet", "N"),
    ] {
        let u = User {
            gender: stored.map(String::from),
            ..minimal()
        };
        assert_eq!(web(&u)["gender"], w, "{stored:?}");
        assert_eq!(sdk(&u, None)["gender"], s, "{stored:?}");
    }
}

#[test]
fn names_one_part_at_a_time() {
    let u = User {
        given_name: Some("Asha".into()),
        ..minimal()
    };
    assert_eq!(web(&u)["name"], json!({"first": "Asha"}));
    assert!(web(&u)["history"]["name"]["updateTime"].is_i64());
    let u = User {
        family_name: Some("Rao".into()),
        ..minimal()
    };
    assert_eq!(web(&u)["name"], json!({"last": "Rao"}));
    assert_eq!(sdk(&u, None)["lastName"], "Rao");
    assert!(sdk(&u, None).get("firstName").is_none());
}

#[test]
fn country_code_prefers_an_alpha2_address_country_then_the_number() {
    let with = |country: Option<&str>| User {
        address: Some(Address {
            locality: Some("Pune".into()),
            country: country.map(String::from),
            ..Address::default()
        }),
        ..full()
    };
    assert_eq!(country_code(&with(Some("GB"))), "gb");
    assert_eq!(country_code(&with(Some(" de "))), "de");
    assert_eq!(country_code(&with(Some("India"))), "in");
    assert_eq!(country_code(&with(None)), "in");
    assert_eq!(country_code(&minimal()), "us");
    assert_eq!(
        web(&with(None))["addresses"],
        json!([{"countryCode": "in", "city": "Pune"}])
    );
    // An empty address is no address.
    let empty = User {
        address: Some(Address::default()),
        ..minimal()
    };
    assert!(web(&empty).get("addresses").is_none());
    assert!(sdk(&empty, None).get("city").is_none());
}

#[test]
fn blocked_users_are_not_active() {
    let u = User {
        status: UserStatus::Blocked,
        ..minimal()
    };
    assert_eq!(web(&u)["isActive"], false);
}

#[test]
fn sdk_profile_of_a_full_user() {
    assert_eq!(
        sdk(&full(), Some("com.example.shop")),
        json!({
            "requestNonce": "nonce-123",
            "phoneNumber": "+919876543210",
            "firstName": "Asha",
            "lastName": "Rao",
            "gender": "F",
            "street": "1 MG Road",
            "city": "Pune",
            "zipcode": "411001",
            "countryCode": "in",
            "email": "asha@example.com",
            "avatarUrl": "https://img.example/asha.png",
            "isTrueName": false,
            "isAmbassador": false,
            "requestTime": 1_700_000_500,
            // printf %s com.example.shop | openssl dgst -sha256 -hmac <app key> -binary | base64
            "verifier": "3N+CguaYCSBymiNPVGGHtDn+9DkIlVK04kxydX6lvJw=",
        })
    );
}

#[test]
fn sdk_profile_of_a_minimal_user_without_a_package_has_no_verifier() {
    assert_eq!(
        sdk(&minimal(), None),
        json!({
            "requestNonce": "nonce-123",
            "phoneNumber": "+14155550123",
            "gender": "N",
            "countryCode": "us",
            "isTrueName": false,
            "isAmbassador": false,
            "requestTime": 1_700_000_500,
        })
    );
}

#[test]
fn verifier_matches_an_independent_hmac() {
    assert_eq!(
        verifier("0123456789abcdef0123456789abcdef", "com.example.shop"),
        "3N+CguaYCSBymiNPVGGHtDn+9DkIlVK04kxydX6lvJw="
    );
}

#[test]
fn payload_is_standard_base64_of_the_json() {
    let p = sdk_profile(&minimal(), "k", None, "nonce-123", 5);
    let b64 = payload(&p);
    let decoded = STANDARD.decode(&b64).unwrap();
    let v: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(v, serde_json::to_value(&p).unwrap());
    assert!(b64
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
}

#[test]
fn request_nonces() {
    for ok in [
        "12345678",
        "RL8YZ41FQMt5Jiak2sc_Ys0OgQA=",
        &"x".repeat(64),
        "~!@#$%^&*()",
    ] {
        assert!(is_valid_request_nonce(ok), "{ok:?}");
    }
    for bad in [
        "",
        "1234567",
        &"x".repeat(65),
        "abcdefg\n",
        "abcd 1234",
        "abcdefgé",
        "abc\u{7f}defgh",
    ] {
        assert!(!is_valid_request_nonce(bad), "{bad:?}");
    }
}

#[test]
fn phone_numbers_as_json_numbers() {
    assert_eq!(phone_number("+919876543210"), Some(919876543210));
    assert_eq!(phone_number("not a number"), None);
}
