//! A strict `application/x-www-form-urlencoded` parser: it refuses what lenient parsers
//! paper over (invalid UTF-8, broken percent-escapes, repeated parameters), as the token
//! endpoint's row 2 requires.

use axum::http::HeaderMap;

/// Parsed form parameters, in order.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The value of `name`, or `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when present and non-empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Every parameter, in the order of the body (names are unique and non-empty).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Checks that the request says it is a UTF-8 form (a `charset` parameter may say UTF-8).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), String> {
    const WANT: &str = "Content-Type must be application/x-www-form-urlencoded";
    let mut values = headers.get_all(axum::http::header::CONTENT_TYPE).iter();
    let (Some(ct), None) = (values.next(), values.next()) else {
        return Err(WANT.into());
    };
    let ct = ct.to_str().map_err(|_| WANT.to_string())?;
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(WANT.into());
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("charset") {
            let v = v.trim().trim_matches('"');
            if !v.eq_ignore_ascii_case("utf-8") && !v.eq_ignore_ascii_case("utf8") {
                return Err("Only charset=UTF-8 is supported".into());
            }
        }
    }
    Ok(())
}

/// Parses a form body. The error says what is wrong, fit for `error_description`.
pub fn parse(body: &[u8]) -> Result<Form, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let k = decode(k)?;
        let v = decode(v)?;
        if k.is_empty() {
            continue;
        }
        if out.iter().any(|(ek, _)| *ek == k) {
            return Err(format!(
                "Parameter {} appears more than once",
                printable(&k, 64)
            ));
        }
        out.push((k, v));
    }
    Ok(Form(out))
}

fn decode(s: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    s.get(i + 1).and_then(|b| hex(*b)),
                    s.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                    _ => return Err("Malformed percent-encoding in request body".into()),
                }
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| "Request body is not valid UTF-8".to_string())
}

/// `s` cut to `max` characters with control characters replaced, safe to echo in an error.
pub fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let f = parse(b"a=1&b=x+y%21&c=&d").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.get("c"), Some(""));
        assert_eq!(f.non_empty("c"), None);
        assert_eq!(f.get("d"), Some(""));
        assert_eq!(f.get("z"), None);
    }

    #[test]
    fn rejects() {
        assert_eq!(
            parse(b"a=1&a=2").unwrap_err(),
            "Parameter a appears more than once"
        );
        assert_eq!(
            parse(b"a=%FF").unwrap_err(),
            "Request body is not valid UTF-8"
        );
        assert_eq!(
            parse(b"a=\xff").unwrap_err(),
            "Request body is not valid UTF-8"
        );
        assert_eq!(
            parse(b"a=%G1").unwrap_err(),
            "Malformed percent-encoding in request body"
        );
        assert_eq!(
            parse(b"a=%4").unwrap_err(),
            "Malformed percent-encoding in request body"
        );
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_err());
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(check_content_type(&h).is_ok());
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded;charset=latin1"
                .parse()
                .unwrap(),
        );
        assert!(check_content_type(&h).is_err());
        h.insert("content-type", "application/json".parse().unwrap());
        assert!(check_content_type(&h).is_err());
    }
}
