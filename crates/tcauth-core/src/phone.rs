//! Phone numbers, parsed and normalised with the `phonenumber` crate (libphonenumber's data).

use phonenumber::{Mode, PhoneNumber};

/// A valid phone number in its canonical forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// `+919876543210`
    pub e164: String,
    /// `IN`
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("not a phone number; write it in international form, e.g. +919876543210")]
    Unparseable,
    #[error("not a valid phone number for its country")]
    Invalid,
    #[error("unknown country code {0:?}; use an ISO 3166 alpha-2 code such as IN")]
    UnknownCountry(String),
}

/// Longest input we hand to the parser.
const MAX_INPUT: usize = 64;

/// Parses `input`, in international form (`+91 98765-43210`, `0091…`) or, when `country`
/// (ISO 3166 alpha-2) is given, in that country's national form.
pub fn parse(input: &str, country: Option<&str>) -> Result<Phone, PhoneError> {
    if input.len() > MAX_INPUT || input.trim().is_empty() {
        return Err(PhoneError::Unparseable);
    }
    let region = match country {
        Some(c) => Some(
            c.to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| PhoneError::UnknownCountry(c.chars().take(8).collect()))?,
        ),
        None => None,
    };
    let mut s = input.trim().to_string();
    if let Some(rest) = s.strip_prefix("00") {
        s = format!("+{rest}");
    }
    let n: PhoneNumber = phonenumber::parse(region, &s).map_err(|_| PhoneError::Unparseable)?;
    if !phonenumber::is_valid(&n) {
        return Err(PhoneError::Invalid);
    }
    let e164 = n.format().mode(Mode::E164).to_string();
    // The E.164 form is what is stored and parsed again, so it must be valid on its own: with
    // a country given, the parser can call a number valid that is not without it
    // (`+78168167674` with IN; found by the `phone` fuzz target).
    let n = match phonenumber::parse(None, &e164) {
        Ok(again) if phonenumber::is_valid(&again) => again,
        _ => return Err(PhoneError::Invalid),
    };
    let country = n
        .country()
        .id()
        .map(|id| id.as_ref().to_string())
        .ok_or(PhoneError::Invalid)?;
    Ok(Phone { e164, country })
}

impl Phone {
    /// Country code and national number, digits only: the userinfo `phone_number` format.
    pub fn digits(&self) -> &str {
        self.e164.trim_start_matches('+')
    }
}

/// Digits of an E.164 string (`+919876543210` → `919876543210`).
pub fn e164_digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

/// `+919876543210` → `+91 98765 43210` (international format, for showing to a person).
/// Anything unparseable is returned as is.
pub fn display(e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) => n.format().mode(Mode::International).to_string(),
        Err(_) => e164.to_string(),
    }
}

/// Whether `country` is an ISO 3166 alpha-2 region the phone-number data knows (`IN`, `US`…).
pub fn is_known_country(country: &str) -> bool {
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && country.parse::<phonenumber::country::Id>().is_ok()
}

/// The country calling code of a region (`IN` → 91), when known.
pub fn calling_code(country: &str) -> Option<u16> {
    let id = country.parse::<phonenumber::country::Id>().ok()?;
    phonenumber::metadata::DATABASE
        .by_id(id.as_ref())
        .map(|m| m.country_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_indian_mobile() {
        let want = Phone {
            e164: "+919876543210".into(),
            country: "IN".into(),
        };
        assert_eq!(parse("+919876543210", None).unwrap(), want);
        assert_eq!(parse("+91 98765-43210", None).unwrap(), want);
        assert_eq!(parse("00919876543210", None).unwrap(), want);
        assert_eq!(parse("9876543210", Some("in")).unwrap(), want);
        assert_eq!(want.digits(), "919876543210");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse("hello", None), Err(PhoneError::Unparseable));
        assert!(parse("+911", None).is_err());
        assert!(parse("+91 00000 00000", None).is_err());
        assert!(matches!(
            parse("9876543210", Some("XX")),
            Err(PhoneError::UnknownCountry(_))
        ));
        assert_eq!(parse(&"1".repeat(100), None), Err(PhoneError::Unparseable));
    }

    #[test]
    fn display_and_countries() {
        assert_eq!(display("+919876543210"), "+91 98765 43210");
        assert_eq!(display("junk"), "junk");
        assert!(is_known_country("IN") && is_known_country("US"));
        assert!(!is_known_country("in") && !is_known_country("XX") && !is_known_country("IND"));
        assert_eq!(calling_code("IN"), Some(91));
        assert_eq!(calling_code("GB"), Some(44));
        assert_eq!(calling_code("XX"), None);
    }

    #[test]
    fn accepted_numbers_reparse_to_themselves() {
        // Found by the `phone` fuzz target: valid with the IN hint, invalid as its E.164.
        assert_eq!(parse("+78168167674", Some("IN")), Err(PhoneError::Invalid));
        assert_eq!(parse("+78168167674", None), Err(PhoneError::Invalid));
        let p = parse("98765 43210", Some("IN")).unwrap();
        assert_eq!(parse(&p.e164, None), Ok(p));
    }
}
