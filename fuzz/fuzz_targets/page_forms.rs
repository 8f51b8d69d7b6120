//! The sign-in pages' forms, as their `submit` handlers read them: the body through
//! `form::parse` (as `load_post` does), the CSRF check, then each page's field rules — the
//! phone page's country and number, the code page's code, the name page's names, the consent
//! page's decision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcauth_core::otp::{self, person_name, MAX_NAME_CHARS};
use tcauth_core::phone;
use tcauth_server::form;
use tcauth_server::pages::code::entered_code;
use tcauth_server::pages::phone::chosen_country;
use tcauth_server::pages::session::{Authorization, Interaction};

fuzz_target!(|data: &[u8]| {
    let Ok(f) = form::parse(data) else {
        return;
    };

    // `load_post`: the form's `csrf` must be the interaction's.
    let ix = Interaction::new(
        Authorization {
            client_id: "id".into(),
            redirect_uri: "https://app.example/cb".into(),
            scopes: "openid".into(),
            state: None,
            nonce: None,
            code_challenge: "x".repeat(43),
        },
        0,
    );
    assert!(!ix.csrf_ok(f.get("csrf")), "a guessed CSRF token passed");
    assert!(ix.csrf_ok(Some(&ix.csrf.clone())));

    // Phone page.
    let country = chosen_country(&f, "IN");
    assert!(
        country == "IN" || phone::is_known_country(country),
        "{country:?}"
    );
    let input = f.get("phone").unwrap_or("").trim();
    if let Ok(p) = otp::parse_sms_number(input, Some(country)) {
        assert_eq!(otp::parse_sms_number(&p.e164, None).as_ref(), Ok(&p));
    }

    // Code page.
    let code = entered_code(&f);
    assert!(!code.chars().any(|c| c.is_whitespace() || c == '-'));
    if otp::is_well_formed(&code) {
        assert!(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "{code:?}"
        );
    }

    // Name page.
    for field in ["given_name", "family_name"] {
        if let Some(n) = person_name(f.get(field).unwrap_or("")) {
            assert_eq!(n, n.trim());
            assert!((1..=MAX_NAME_CHARS).contains(&n.chars().count()));
            assert!(n.chars().any(char::is_alphabetic) && !n.chars().any(char::is_control));
            assert_eq!(person_name(&n).as_deref(), Some(n.as_str()));
        }
    }

    // Consent page: only `allow` and `deny` are decisions.
    let _ = matches!(f.get("decision"), Some("allow") | Some("deny"));
});
