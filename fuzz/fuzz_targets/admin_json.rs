//! The admin API's JSON bodies, from bytes: `admin::parse_json` (what `json_body` runs) into
//! each request type, then its validation, as the handlers do (a `PATCH` body through
//! `clients::parse_patch` and `ClientPatch::apply`). Every error names a field of
//! that request (or `body` for JSON that does not fit), and what validates renders as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcauth_core::model::{Client, GrantType};
use tcauth_core::validate::{FieldError, NewBranding, NewClient, NewUser};
use tcauth_core::ScopeSet;
use tcauth_server::admin::{authorizations::NewAuthorization, clients, parse_json, users};

const BRANDING: &[&str] = &[
    "heading",
    "button_text",
    "button_color",
    "button_shape",
    "privacy_url",
    "terms_url",
];
const CLIENT: &[&str] = &[
    "name",
    "redirect_uris",
    "scopes",
    "grant_types",
    "rate_limit.per_second",
    "rate_limit.burst",
    "callback_url",
    "package_name",
    "mode",
];
const USER: &[&str] = &[
    "phone_number",
    "given_name",
    "family_name",
    "email",
    "picture",
    "gender",
    "address.street_address",
    "address.locality",
    "address.region",
    "address.postal_code",
    "address.country",
];
const AUTHORIZATION: &[&str] = &[
    "client_id",
    "sub",
    "scopes",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "redirect_uri",
];

/// The error names `body`, one of `fields`, an element of one (`redirect_uris[1]`), an object
/// holding some (`rate_limit`, `address`, `branding`, `branding.*` for clients), or the unknown
/// member the message is about.
fn names_a_field(e: &FieldError, fields: &[&str], client: bool) {
    let f = e.field.as_str();
    let base = match f.strip_suffix(']').and_then(|r| r.rsplit_once('[')) {
        Some((name, i)) if i.parse::<usize>().is_ok() => name,
        _ => f,
    };
    let known = |name: &str, list: &[&str]| {
        list.contains(&name) || list.iter().any(|k| k.starts_with(&format!("{name}.")))
    };
    let ok = f == "body"
        || known(base, fields)
        || (client
            && (base == "branding"
                || base
                    .strip_prefix("branding.")
                    .is_some_and(|b| BRANDING.contains(&b))))
        || unknown_member(e);
    assert!(ok, "error names no field of the request: {e}");
    assert!(!e.message.is_empty(), "error without a message: {e}");
}

/// An unknown member: the path is the member's name, alone or under one of the request's
/// objects, and the message quotes that name. Names may hold dots, and both the path and the
/// message are cut at 200 characters, so the quoted name and the path's end agree up to the
/// shorter of the two.
fn unknown_member(e: &FieldError) -> bool {
    let Some(quoted) = e.message.strip_prefix("unknown field `") else {
        return false;
    };
    ["", "rate_limit.", "address.", "branding."]
        .iter()
        .any(|object| {
            e.field
                .strip_prefix(object)
                .is_some_and(|name| quoted.starts_with(name) || name.starts_with(quoted))
        })
}

/// The fixed client the authorization and patch arms work on.
fn client() -> Client {
    Client {
        client_id: "id".into(),
        name: "App".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: ScopeSet::parse("openid profile phone").unwrap(),
        grant_types: vec![GrantType::AuthorizationCode],
        rate_limit: None,
        created_at: 0,
        branding: None,
        app_key: "0123456789abcdef0123456789abcdef".into(),
        callback_url: None,
        callback_salt: None,
        package_name: None,
        updated_at_ms: 5,
        mode: tcauth_core::model::ClientMode::Live,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if which % 5 == 4 {
        let mut c = client();
        match clients::parse_patch(body).and_then(|p| p.apply(&mut c, 9)) {
            Ok(set) => {
                assert_eq!((c.client_id.as_str(), c.updated_at_ms), ("id", 9));
                assert_eq!(set, c.callback_url.is_some() && c.callback_salt.is_some());
                assert!(!c.scopes.is_empty() && !c.grant_types.is_empty());
                let _ = clients::to_json(&c);
            }
            Err(e) => {
                names_a_field(&e, CLIENT, false);
                assert_eq!(c, client(), "a refused patch changes nothing");
            }
        }
        return;
    }
    match which % 4 {
        0 => match parse_json::<NewClient>(body).and_then(|n| n.validate("id".into(), 7)) {
            Ok(c) => {
                assert_eq!(c.client_id, "id");
                assert!(!c.scopes.is_empty() && !c.grant_types.is_empty());
                assert!(!c.redirect_uris.is_empty());
                let _ = clients::to_json(&c);
            }
            Err(e) => names_a_field(&e, CLIENT, true),
        },
        1 => match parse_json::<NewUser>(body).and_then(|n| n.validate(42, 7)) {
            Ok(u) => {
                // The number was normalised: it parses again to itself.
                let p =
                    tcauth_core::phone::parse(&u.phone_e164, None).expect("a stored number parses");
                assert_eq!(p.e164, u.phone_e164);
                let _ = users::to_json(&u);
            }
            Err(e) => names_a_field(&e, USER, false),
        },
        2 => match parse_json::<NewBranding>(body).and_then(|n| n.validate()) {
            Ok(b) => {
                let _ = serde_json::to_value(&b).expect("branding serialises");
            }
            Err(e) => names_a_field(&e, BRANDING, false),
        },
        _ => {
            // The handler looks up the client and the user between `sub` and `check`; here
            // the client is a fixed one.
            let client = client();
            match parse_json::<NewAuthorization>(body).and_then(|r| {
                r.sub()?;
                r.check(&client)
            }) {
                Ok(s) => assert!(!s.is_empty() && s.is_subset_of(client.scopes)),
                Err(e) => names_a_field(&e, AUTHORIZATION, false),
            }
        }
    }
});
