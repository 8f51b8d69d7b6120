//! Phone numbers: `phone::parse` and `otp::parse_sms_number` on any text, with no country,
//! a known one, or one taken from the input. An accepted number is E.164 (`+` and digits)
//! and re-parses to itself, with the same country; its display form parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcauth_core::{otp, phone};

fuzz_target!(
    // The first parse loads the numbering plan (about a second; ten under load, which
    // libFuzzer then reports as a slow unit): load it before the clock starts.
    init: {
        let _ = phone::parse("+14155552671", None);
    },
    |data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Country: none, a fixed one, or the text before the first `|`.
    let (country, input) = match which % 4 {
        0 => (None, text),
        1 => (Some("IN"), text),
        2 => (Some("US"), text),
        _ => match text.split_once('|') {
            Some((c, i)) => (Some(c), i),
            None => (Some(text), ""),
        },
    };
    let _ = phone::is_known_country(input);
    let parsed = phone::parse(input, country);
    if let Ok(p) = &parsed {
        let digits = p.e164.strip_prefix('+').expect("E.164 starts with +");
        assert!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "{p:?}"
        );
        assert_eq!(p.digits(), digits);
        let again = phone::parse(&p.e164, None).expect("an accepted number re-parses");
        assert_eq!(&again, p, "re-parse of {input:?} ({country:?})");
        assert_eq!(phone::parse(&p.e164, Some(&p.country)).as_ref(), Ok(p));
        let shown = phone::display(&p.e164);
        assert_eq!(
            phone::parse(&shown, None).as_ref(),
            Ok(p),
            "display {shown:?}"
        );
    }
    match otp::parse_sms_number(input, country) {
        Ok(p) => {
            assert_eq!(parsed.as_ref(), Ok(&p), "SMS number not a phone number");
            assert_eq!(otp::parse_sms_number(&p.e164, None).as_ref(), Ok(&p));
        }
        Err(e) => {
            if let Err(pe) = &parsed {
                assert_eq!(&e, pe, "a different error than phone::parse's");
            }
        }
    }
});
