//! Validation of what operators send (admin API, CLI, CSV import) into records.
//! Each error names the offending field, so every front end can report it as is.

use crate::model::{
    Address, Branding, ButtonShape, ButtonText, Client, GrantType, Heading, RateLimit, UnixTime,
    User, UserStatus,
};
use crate::phone;
use crate::scope::ScopeSet;
use serde::Deserialize;

/// A field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub const MAX_NAME: usize = 128;
pub const MAX_REDIRECT_URIS: usize = 20;
pub const MAX_URI: usize = 2048;
pub const MAX_TEXT: usize = 256;
pub const MAX_RATE: u32 = 1_000_000;

/// A client as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub branding: Option<NewBranding>,
}

impl NewClient {
    /// Checks every field and builds the client record with the given id and time.
    pub fn validate(self, client_id: String, now: UnixTime) -> Result<Client, FieldError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                "name",
                format!("must be 1–{MAX_NAME} printable characters"),
            ));
        }
        if self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(FieldError::new(
                "redirect_uris",
                format!("must list 1–{MAX_REDIRECT_URIS} URIs"),
            ));
        }
        for (i, u) in self.redirect_uris.iter().enumerate() {
            if let Err(m) = check_redirect_uri(u) {
                return Err(FieldError::new(format!("redirect_uris[{i}]"), m));
            }
        }
        let scopes = ScopeSet::from_names(&self.scopes)
            .map_err(|e| FieldError::new("scopes", e.to_string()))?;
        if scopes.is_empty() {
            return Err(FieldError::new("scopes", "must list at least one scope"));
        }
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let gt = GrantType::parse(g).ok_or_else(|| {
                FieldError::new(
                    "grant_types",
                    format!(
                        "unknown grant type {:?}; use authorization_code and/or refresh_token",
                        g.chars().take(64).collect::<String>()
                    ),
                )
            })?;
            if !grant_types.contains(&gt) {
                grant_types.push(gt);
            }
        }
        if grant_types.is_empty() {
            return Err(FieldError::new(
                "grant_types",
                "must list at least one grant type",
            ));
        }
        if let Some(rl) = self.rate_limit {
            if rl.per_second == 0 || rl.per_second > MAX_RATE {
                return Err(FieldError::new(
                    "rate_limit.per_second",
                    format!("must be 1–{MAX_RATE}"),
                ));
            }
            if rl.burst == 0 || rl.burst > MAX_RATE {
                return Err(FieldError::new(
                    "rate_limit.burst",
                    format!("must be 1–{MAX_RATE}"),
                ));
            }
        }
        let branding = match self.branding {
            Some(b) => Some(
                b.validate()
                    .map_err(|e| FieldError::new(format!("branding.{}", e.field), e.message))?,
            ),
            None => None,
        };
        Ok(Client {
            client_id,
            name,
            redirect_uris: self.redirect_uris,
            scopes,
            grant_types,
            rate_limit: self.rate_limit,
            created_at: now,
            branding,
        })
    }
}

/// The one message for a URI that does not start with a scheme.
const NOT_ABSOLUTE: &str = "must be an absolute URI, e.g. https://app.example/callback";

/// Schemes refused by name (they run code or read local data where a browser lands).
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "file",
    "blob",
    "about",
    "filesystem",
];

/// A redirect URI (CONTRACT.md §7) is an absolute URI (RFC 3986, ASCII, valid
/// percent-escapes) without a fragment, and one of
/// - `https://host[:port][/path][?query]`, host a DNS name, an IPv4 address or an `[IPv6]`
///   address, without user information;
/// - `http://` the same, on the loopback IP literals `127.0.0.1` and `[::1]` only (not
///   `localhost`: RFC 8252 §8.3);
/// - an app's private-use scheme (RFC 8252 §7.1): a scheme in reverse-domain form, so with at
///   least one dot and no empty label (`com.example.app`), then `:/` and a path, e.g.
///   `com.example.app:/oauth2redirect` (no authority: `scheme://…` is refused). `javascript`,
///   `data`, `file` and the like are refused by name.
pub fn check_redirect_uri(u: &str) -> Result<(), String> {
    if u.is_empty() || u.len() > MAX_URI {
        return Err(format!("must be 1–{MAX_URI} characters"));
    }
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space or control characters".into());
    }
    if u.contains('#') {
        return Err("must not contain a fragment (#)".into());
    }
    let (scheme, rest) = split_scheme(u).ok_or(NOT_ABSOLUTE)?;
    check_uri_chars(u)?;
    let lower = scheme.to_ascii_lowercase();
    match lower.as_str() {
        "https" => {
            let (_, tail) = authority(rest)?;
            check_path_query(tail)
        }
        "http" => {
            let (host, tail) = authority(rest)?;
            if !host.is_loopback_literal() {
                return Err(
                    "http is allowed only on the loopback hosts 127.0.0.1 and [::1]; use https"
                        .into(),
                );
            }
            check_path_query(tail)
        }
        s if FORBIDDEN_SCHEMES.contains(&s) => Err(format!("the {s} scheme is not allowed")),
        _ => {
            let reverse_domain =
                lower.contains('.') && lower.split('.').all(|label| !label.is_empty());
            if !reverse_domain {
                return Err(
                    "must be https, http on a loopback host, or a private-use scheme \
                            in reverse domain form such as com.example.app (RFC 8252 §7.1)"
                        .into(),
                );
            }
            if !rest.starts_with('/') || rest.starts_with("//") {
                return Err(format!(
                    "must be {scheme}:/ followed by a path, e.g. {scheme}:/oauth2redirect \
                     (RFC 8252 §7.1)"
                ));
            }
            check_path_query(rest)
        }
    }
}

/// `scheme` and what follows its `:`, when `u` starts with an RFC 3986 scheme.
fn split_scheme(u: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = u.split_once(':')?;
    let ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some((scheme, rest))
}

/// Every character is one RFC 3986 allows in a URI, and every `%` starts an escape `%HH`.
fn check_uri_chars(u: &str) -> Result<(), String> {
    if let Some(c) = u.chars().find(|&c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, '-' | '.' | '_' | '~' | '%')
            || matches!(c, ':' | '/' | '?' | '#' | '[' | ']' | '@')
            || matches!(
                c,
                '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '='
            ))
    }) {
        return Err(format!(
            "must not contain the character {c:?}; percent-encode it (RFC 3986)"
        ));
    }
    let b = u.as_bytes();
    for (i, _) in u.match_indices('%') {
        let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
        if !ok {
            return Err("has a bad percent-escape; write %HH (two hex digits)".into());
        }
    }
    Ok(())
}

/// The host of an http(s) URI.
enum Host<'a> {
    Name(&'a str),
    V6(std::net::Ipv6Addr),
}

impl Host<'_> {
    /// `127.0.0.1` or `[::1]` (any spelling of it): RFC 8252 §7.3's loopback IP literals.
    fn is_loopback_literal(&self) -> bool {
        match self {
            Host::Name(n) => *n == "127.0.0.1",
            Host::V6(a) => *a == std::net::Ipv6Addr::LOCALHOST,
        }
    }
}

/// After `scheme:` of an http(s) URI: `//host[:port]`, then the rest (path and query).
/// The host is a DNS name or an IPv4 address (labels of letters, digits and inner hyphens,
/// joined by dots) or an `[IPv6]` address; user information is refused.
fn authority(rest: &str) -> Result<(Host<'_>, &str), String> {
    const HOST: &str = "must name a host: a DNS name, an IPv4 address or an [IPv6] address, as in \
         https://app.example/callback";
    let Some(after) = rest.strip_prefix("//") else {
        return Err(HOST.into());
    };
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (auth, tail) = after.split_at(end);
    if auth.contains('@') {
        return Err("must not contain user information (user:password@)".into());
    }
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(HOST)?;
        let addr: std::net::Ipv6Addr = addr.parse().map_err(|_| HOST.to_string())?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(HOST)?),
        };
        (Host::V6(addr), port)
    } else {
        let (name, port) = match auth.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (auth, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(HOST.into());
        }
        (Host::Name(name), port)
    };
    if let Some(p) = port {
        let ok = !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
        if !ok {
            return Err("must have a port of 1–65535 after the host's ':'".into());
        }
    }
    Ok((host, tail))
}

/// A path and query: RFC 3986 `pchar`s, `/` and `?` (no `[` or `]` outside an IPv6 host).
fn check_path_query(tail: &str) -> Result<(), String> {
    match tail.chars().find(|c| matches!(c, '[' | ']')) {
        Some(c) => Err(format!(
            "must not contain the character {c:?} in its path or query; percent-encode it"
        )),
        None => Ok(()),
    }
}

/// The gender values of CONTRACT.md §7 (§9 shows them as `Female`|`Male`|`NotSet`).
pub const GENDERS: [&str; 3] = ["female", "male", "other"];

/// A user as an operator describes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub phone_number: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
}

impl NewUser {
    /// Checks every field and builds the user record with the given sub and time.
    /// Numbers added by an operator count as verified.
    pub fn validate(self, sub: i64, now: UnixTime) -> Result<User, FieldError> {
        let p = phone::parse(&self.phone_number, None)
            .map_err(|e| FieldError::new("phone_number", e.to_string()))?;
        let given_name = opt_text("given_name", self.given_name, MAX_NAME)?;
        let family_name = opt_text("family_name", self.family_name, MAX_NAME)?;
        let email = opt_text("email", self.email, MAX_TEXT)?;
        if let Some(e) = &email {
            let ok = e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            }) && e.matches('@').count() == 1;
            if !ok {
                return Err(FieldError::new(
                    "email",
                    "must be an address like name@example.com",
                ));
            }
        }
        let picture = opt_text("picture", self.picture, MAX_URI)?;
        if let Some(pic) = &picture {
            check_https_url(pic).map_err(|m| FieldError::new("picture", m))?;
        }
        // Any case is understood; the contract's lower-case value is stored.
        let gender = match opt_text("gender", self.gender, 32) {
            Ok(Some(g)) => {
                let g = g.to_ascii_lowercase();
                if !GENDERS.contains(&g.as_str()) {
                    return Err(FieldError::new("gender", "must be female, male or other"));
                }
                Some(g)
            }
            Ok(None) => None,
            Err(_) => return Err(FieldError::new("gender", "must be female, male or other")),
        };
        let address = match self.address {
            None => None,
            Some(a) => {
                let a = Address {
                    street_address: opt_text("address.street_address", a.street_address, MAX_TEXT)?,
                    locality: opt_text("address.locality", a.locality, MAX_TEXT)?,
                    region: opt_text("address.region", a.region, MAX_TEXT)?,
                    postal_code: opt_text("address.postal_code", a.postal_code, 32)?,
                    country: opt_text("address.country", a.country, MAX_TEXT)?,
                };
                (!a.is_empty()).then_some(a)
            }
        };
        Ok(User {
            sub,
            phone_e164: p.e164,
            phone_country: p.country,
            phone_verified: true,
            given_name,
            family_name,
            email,
            picture,
            gender,
            address,
            status: UserStatus::Active,
            created_at: now,
        })
    }
}

/// An app's consent-page branding as an operator sends it (admin API, CLI). Absent fields
/// take their defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBranding {
    #[serde(default)]
    pub heading: Option<String>,
    #[serde(default)]
    pub button_text: Option<String>,
    #[serde(default)]
    pub button_color: Option<String>,
    #[serde(default)]
    pub button_shape: Option<String>,
    #[serde(default)]
    pub privacy_url: Option<String>,
    #[serde(default)]
    pub terms_url: Option<String>,
}

impl NewBranding {
    /// Checks every field: known heading, button text and shape; colour `#RRGGBB` (stored in
    /// lower case); links https URLs.
    pub fn validate(self) -> Result<Branding, FieldError> {
        fn pick<T: Copy>(
            field: &str,
            v: Option<String>,
            all: &[T],
            name: impl Fn(T) -> &'static str,
        ) -> Result<Option<T>, FieldError> {
            let Some(v) = v else { return Ok(None) };
            all.iter()
                .copied()
                .find(|t| name(*t) == v)
                .map(Some)
                .ok_or_else(|| {
                    let names: Vec<_> = all.iter().map(|t| name(*t)).collect();
                    FieldError::new(field, format!("must be one of {}", names.join(", ")))
                })
        }
        let heading = pick("heading", self.heading, &Heading::ALL, Heading::as_str)?;
        let button_text = pick(
            "button_text",
            self.button_text,
            &ButtonText::ALL,
            ButtonText::as_str,
        )?;
        let button_shape = pick(
            "button_shape",
            self.button_shape,
            &[ButtonShape::Rounded, ButtonShape::Rectangle],
            ButtonShape::as_str,
        )?;
        let button_color = match self.button_color {
            None => None,
            Some(c) => {
                let ok = c.len() == 7
                    && c.starts_with('#')
                    && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(FieldError::new(
                        "button_color",
                        "must be a hex colour like #1A73E8",
                    ));
                }
                Some(c.to_ascii_lowercase())
            }
        };
        let url = |field: &str, v: Option<String>| -> Result<Option<String>, FieldError> {
            match v {
                None => Ok(None),
                Some(u) => check_https_url(&u)
                    .map(|()| Some(u))
                    .map_err(|m| FieldError::new(field, m)),
            }
        };
        Ok(Branding {
            heading: heading.unwrap_or_default(),
            button_text: button_text.unwrap_or_default(),
            button_color,
            button_shape: button_shape.unwrap_or_default(),
            privacy_url: url("privacy_url", self.privacy_url)?,
            terms_url: url("terms_url", self.terms_url)?,
        })
    }
}

/// An absolute https URL (a picture, a branding link): a host as for redirect URIs, without
/// user information, and no white space or characters that need escaping in HTML. A fragment
/// is allowed.
pub fn check_https_url(u: &str) -> Result<(), String> {
    if u.len() > MAX_URI {
        return Err(format!("must be at most {MAX_URI} characters"));
    }
    let Some(rest) = u.strip_prefix("https:") else {
        return Err("must be an https URL, e.g. https://app.example/path".into());
    };
    if u.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\' | '`'))
    {
        return Err("must not contain white space, quotes or angle brackets".into());
    }
    authority(rest).map(|_| ())
}

/// Empty or blank text counts as absent.
fn opt_text(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim().to_string();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(v))
}

/// A new user id: random, positive, below 2^53 so JavaScript clients keep it exact.
pub fn new_sub() -> i64 {
    let b = crate::secret::random_bytes::<8>();
    let n = u64::from_le_bytes(b) & ((1u64 << 53) - 1);
    (n.max(1)) as i64
}

/// A new client id: 24 lower-case alphanumerics (about 124 bits).
pub fn new_client_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(24);
    for b in crate::secret::random_bytes::<48>() {
        // rejection sampling keeps the alphabet uniform
        if (b as usize) < 252 {
            out.push(ALPHABET[b as usize % 36] as char);
            if out.len() == 24 {
                break;
            }
        }
    }
    while out.len() < 24 {
        out.push_str(&new_client_id()[..24 - out.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> NewClient {
        NewClient {
            name: "Shop".into(),
            redirect_uris: vec!["https://shop.example/cb".into()],
            scopes: vec!["openid".into(), "phone".into()],
            grant_types: vec!["authorization_code".into()],
            rate_limit: None,
            branding: None,
        }
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
}
