//! `GET /v1/auth` (and `POST`, RFC 6749 §3.1): the authorization request (CONTRACT.md §5,
//! checklist A1–A11).
//!
//! Order: the client and the redirect URI first — while either is in doubt, an error page
//! (400) and never a redirect. Then every other fault redirects to that URI with `error`,
//! the `state` and `iss`. A valid request starts an interaction (the sealed cookie) and sends
//! the browser to the phone-number page.

use super::session::{self, Authorization, Interaction, MAX_COOKIE};
use super::{error, see_other, MAX_PAGE_FORM};
use crate::state::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tcauth_core::{pkce, ScopeSet};

/// Longest `state` and `nonce` kept (they ride in the interaction cookie).
pub const MAX_STATE: usize = 512;
pub const MAX_NONCE: usize = 512;

/// Parameters whose repetition is an error (RFC 6749 §3.1); others are ignored.
const KNOWN: [&str; 13] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "response_mode",
    "max_age",
    "request",
    "request_uri",
];

/// Everything but the unreserved characters is escaped in what we add to a redirect URI.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `uri` with `params` added to its query.
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.extend(utf8_percent_encode(v, COMPONENT));
        sep = '&';
    }
    out
}

/// The request's parameters in order, repeats kept.
pub(super) struct Params(Vec<(String, String)>);

pub(super) enum One<'a> {
    Absent,
    Value(&'a str),
    Repeated,
}

impl Params {
    /// `None` when the encoding is broken (bad UTF-8).
    pub(super) fn parse(raw: &[u8]) -> Option<Params> {
        let decode = |s: &[u8]| -> Option<String> {
            let plus: Vec<u8> = s
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            percent_decode(&plus)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        let mut out = Vec::new();
        for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            out.push((decode(k)?, decode(v)?));
        }
        Some(Params(out))
    }

    pub(super) fn one(&self, name: &str) -> One<'_> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        match (it.next(), it.next()) {
            (None, _) => One::Absent,
            (Some((_, v)), None) => One::Value(v),
            _ => One::Repeated,
        }
    }

    /// The value when given once and non-empty.
    pub(super) fn value(&self, name: &str) -> Option<&str> {
        match self.one(name) {
            One::Value(v) if !v.is_empty() => Some(v),
            _ => None,
        }
    }
}

pub async fn get(State(app): State<App>, uri: Uri) -> Response {
    let raw = uri.query().unwrap_or("").as_bytes().to_vec();
    authorize(&app, &raw, StatusCode::FOUND).await
}

pub async fn post(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let Ok(bytes) = crate::oauth::read_body(&headers, body, MAX_PAGE_FORM).await else {
        return error::bad_authorization(&app, "The request is too large or incomplete.");
    };
    if crate::form::check_content_type(&headers).is_err() {
        return error::bad_authorization(&app, "The request is not a form.");
    }
    authorize(&app, &bytes, StatusCode::SEE_OTHER).await
}

/// A fault reported to the app: `error`, a description, the state.
struct Fault {
    error: &'static str,
    description: String,
}

fn fault(error: &'static str, description: impl Into<String>) -> Fault {
    Fault {
        error,
        description: description.into(),
    }
}

async fn authorize(app: &App, raw: &[u8], redirect: StatusCode) -> Response {
    let Some(params) = Params::parse(raw) else {
        return error::bad_authorization(app, "The request is not valid UTF-8.");
    };
    let client_id = match params.one("client_id") {
        One::Value(v) if !v.is_empty() => v,
        One::Repeated => return error::bad_authorization(app, "client_id is repeated."),
        _ => return error::bad_authorization(app, "The request does not name an app."),
    };
    let client = match app.db(app.store.get_client(client_id)).await {
        Ok(Some(c)) => c,
        Ok(None) => return error::unknown_client(app),
        Err(e) => return error::db(app, e),
    };
    let redirect_uri = match params.one("redirect_uri") {
        One::Value(v) if client.redirect_uris.iter().any(|r| r == v) => v.to_string(),
        One::Repeated => return error::bad_authorization(app, "redirect_uri is repeated."),
        One::Absent => {
            return error::bad_authorization(app, "The request does not say where to return.")
        }
        One::Value(_) => {
            return error::bad_authorization(
                app,
                "The return address is not one registered for this app.",
            )
        }
    };
    // From here on, faults go back to the app.
    let state = params.value("state").map(str::to_string);
    let result = check(&params).and_then(|a| {
        let a = Authorization {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            ..a
        };
        let scopes = ScopeSet::parse(&a.scopes).unwrap_or_default();
        if !scopes.is_subset_of(client.scopes) {
            return Err(fault(
                "invalid_scope",
                format!("This app may ask only for: {}", client.scopes),
            ));
        }
        Ok(a)
    });
    let a = match result {
        Ok(a) => a,
        Err(f) => {
            // A repeated or oversized state is not echoed.
            let state = state.filter(|s| s.len() <= MAX_STATE && !repeated(&params, "state"));
            return to_app(app, &redirect_uri, state.as_deref(), &f, redirect);
        }
    };
    let now = crate::now();
    let ix = Interaction::new(a, now);
    let cookie = session::set_cookie(app, &ix, now);
    if cookie.len() > MAX_COOKIE {
        let f = fault("invalid_request", "The request is too long");
        return to_app(app, &redirect_uri, ix.state.as_deref(), &f, redirect);
    }
    tracing::debug!(client_id = %ix.client_id, "sign-in started");
    let mut r = see_other(session::Stage::Phone.path(), Some(cookie));
    *r.status_mut() = redirect;
    r
}

fn repeated(params: &Params, name: &str) -> bool {
    matches!(params.one(name), One::Repeated)
}

/// Every check after the client and redirect URI, in order. The client fields are filled in
/// by the caller.
fn check(p: &Params) -> Result<Authorization, Fault> {
    if let Some(name) = KNOWN.iter().find(|n| repeated(p, n)) {
        return Err(fault("invalid_request", format!("{name} is repeated")));
    }
    match p.value("response_type") {
        None => return Err(fault("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fault(
                "unsupported_response_type",
                "Only response_type=code is supported",
            ))
        }
    }
    if p.value("response_mode").is_some_and(|m| m != "query") {
        return Err(fault(
            "invalid_request",
            "Only response_mode=query is supported",
        ));
    }
    if p.value("request").is_some() {
        return Err(fault(
            "request_not_supported",
            "Request objects are not supported",
        ));
    }
    if p.value("request_uri").is_some() {
        return Err(fault(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    let scopes = match p.value("scope").map(ScopeSet::parse) {
        None => return Err(fault("invalid_scope", "scope is required")),
        // Not echoed: error_description allows printable ASCII without `"` or `\`.
        Some(Err(_)) => return Err(fault("invalid_scope", "Unknown scope requested")),
        Some(Ok(s)) if s.is_empty() => return Err(fault("invalid_scope", "scope is required")),
        Some(Ok(s)) => s,
    };
    let code_challenge = match p.value("code_challenge") {
        None => {
            return Err(fault(
                "invalid_request",
                "code_challenge is required (PKCE S256)",
            ))
        }
        Some(c) if !pkce::is_well_formed(c) => {
            return Err(fault(
                "invalid_request",
                "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]",
            ))
        }
        Some(c) => c.to_string(),
    };
    if p.value("code_challenge_method") != Some("S256") {
        return Err(fault(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    let state = p.value("state");
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return Err(fault(
            "invalid_request",
            format!("state must be at most {MAX_STATE} bytes"),
        ));
    }
    let nonce = p.value("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE || n.chars().any(char::is_control)) {
        return Err(fault(
            "invalid_request",
            format!("nonce must be at most {MAX_NONCE} printable bytes"),
        ));
    }
    if p.value("prompt")
        .is_some_and(|pr| pr.split(' ').any(|v| v == "none"))
    {
        // No sign-in survives an interaction here, so silent authentication always fails.
        return Err(fault("login_required", "The user must sign in"));
    }
    Ok(Authorization {
        client_id: String::new(),
        redirect_uri: String::new(),
        scopes: scopes.to_string(),
        state: state.map(str::to_string),
        nonce: nonce.map(str::to_string),
        code_challenge,
    })
}

/// The redirect that reports `f` to the app (RFC 6749 §4.1.2.1, RFC 9207).
fn to_app(
    app: &App,
    redirect_uri: &str,
    state: Option<&str>,
    f: &Fault,
    status: StatusCode,
) -> Response {
    let mut params = vec![
        ("error", f.error),
        ("error_description", f.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", &app.settings.issuer));
    let location = with_params(redirect_uri, &params);
    let mut r = status.into_response();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => error::internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_repeats_and_decode() {
        let p = Params::parse(b"a=1&b=x+y%21&a=2&c=").unwrap();
        assert!(matches!(p.one("a"), One::Repeated));
        assert_eq!(p.value("b"), Some("x y!"));
        assert_eq!(p.value("c"), None);
        assert!(matches!(p.one("z"), One::Absent));
        assert!(Params::parse(b"a=%FF").is_none());
    }

    #[test]
    fn redirect_params_are_escaped() {
        assert_eq!(
            with_params(
                "https://a.example/cb",
                &[("state", "a b&c=d"), ("iss", "http://x")]
            ),
            "https://a.example/cb?state=a%20b%26c%3Dd&iss=http%3A%2F%2Fx"
        );
        assert_eq!(
            with_params("https://a.example/cb?k=v", &[("code", "x")]),
            "https://a.example/cb?k=v&code=x"
        );
    }
}
