//! Redirect URIs ([`check_redirect_uri`]) and https links ([`check_https_url`]).

use super::MAX_URI;

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

/// A callback URL (CONTRACT.md §9): an absolute `https://` URL with a host, without user
/// information or fragment; plain `http://` only on the loopback hosts `127.0.0.1`, `[::1]`
/// and `localhost` (a developer's receiver). An IP literal in a link-local range
/// (`169.254.0.0/16`, `fe80::/10`: cloud metadata) is refused here already; names are
/// resolved and checked again at every delivery.
pub fn check_callback_url(u: &str) -> Result<(), String> {
    if u.is_empty() || u.len() > MAX_URI {
        return Err(format!("must be 1–{MAX_URI} characters"));
    }
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space or control characters".into());
    }
    if u.contains('#') {
        return Err("must not contain a fragment (#)".into());
    }
    check_uri_chars(u)?;
    let (scheme, rest) = split_scheme(u)
        .ok_or("must be an https URL, e.g. https://app.example/truecaller/callback")?;
    let (host, tail) = match scheme.to_ascii_lowercase().as_str() {
        "https" => authority(rest)?,
        "http" => {
            let (host, tail) = authority(rest)?;
            let loopback = host.is_loopback_literal()
                || matches!(host, Host::Name(n) if n.eq_ignore_ascii_case("localhost"));
            if !loopback {
                return Err(
                    "http is allowed only on the loopback hosts 127.0.0.1, [::1] and localhost; \
                     use https"
                        .into(),
                );
            }
            (host, tail)
        }
        _ => {
            return Err("must be an https URL, e.g. https://app.example/truecaller/callback".into())
        }
    };
    let link_local = match host {
        Host::Name(n) => n
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_link_local()),
        Host::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        return Err("must not point at a link-local address (169.254.0.0/16, fe80::/10)".into());
    }
    check_path_query(tail)
}
