//! The headers every response of `/v1/auth` and the sign-in pages carries (checklist B1, B2,
//! B8): a strict Content-Security-Policy with `frame-ancestors 'none'`, no framing, no
//! referrer, no caching, no sniffing, a separate browsing-context group, and HSTS when the
//! issuer is https. No CORS header is ever sent from here.

use super::session::is_https;
use crate::state::App;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every page. Inline styles only (no scripts at all); forms post to us only.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                       object-src 'none'";

/// One year, as checklist B2 asks.
const HSTS: &str = "max-age=31536000";

/// [`CSP`] whose `form-action` also admits `redirect_uri`'s origin. Chromium applies
/// `form-action` to the redirects that follow a form submission, so the consent form — whose
/// 303 goes to the app — needs it.
pub fn csp_allowing_redirect_to(redirect_uri: &str) -> String {
    match form_action_source(redirect_uri) {
        Some(src) => CSP.replace("form-action 'self'", &format!("form-action 'self' {src}")),
        None => CSP.to_string(),
    }
}

/// The CSP source expression for a redirect URI: `scheme://host[:port]` for http(s),
/// `scheme:` for an app's private scheme. `None` when it cannot be expressed safely.
fn form_action_source(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let clean = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b':' | b'[' | b']')
            })
    };
    if scheme == "http" || scheme == "https" {
        let authority = rest.strip_prefix("//")?.split(['/', '?']).next()?;
        let host_port = authority.rsplit('@').next()?;
        clean(host_port).then(|| format!("{scheme}://{host_port}"))
    } else {
        clean(&scheme).then(|| format!("{scheme}:"))
    }
}

/// Middleware: adds the headers; a handler may have set a narrower or wider CSP itself.
pub async fn headers(State(app): State<App>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    let fixed: [(HeaderName, &'static str); 6] = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if is_https(&app) {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_sources() {
        assert_eq!(
            form_action_source("https://app.example/cb?x=1").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            form_action_source("http://127.0.0.1:8081/cb").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            form_action_source("com.example.app:/oauth").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(form_action_source("https://a b/").as_deref(), None);
        assert_eq!(
            form_action_source("https://x;script-src *").as_deref(),
            None
        );
        assert!(csp_allowing_redirect_to("https://app.example/cb")
            .contains("form-action 'self' https://app.example;"));
    }
}
