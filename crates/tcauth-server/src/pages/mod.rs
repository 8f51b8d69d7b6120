//! `GET /v1/auth` and the browser sign-in pages (CONTRACT.md §5): phone number → one-time code
//! → name (first sign-in of a number) → consent → back to the app with a code.
//!
//! One module per page, one askama template per page (`templates/`, compile-checked, HTML
//! escaped). The state of a sign-in lives in a sealed cookie ([`session`]); every form carries
//! its CSRF token; every response carries the headers of [`security`]. Pages need no
//! JavaScript. After a form POST the redirect is always 303.

pub mod authorize;
pub mod code;
pub mod codes;
pub mod consent;
pub mod countries;
pub mod dialog;
pub mod error;
pub mod name;
pub mod phone;
pub mod security;
pub mod session;
pub mod web;

use crate::form::{self, Form};
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use session::{Interaction, Missing};
use tcauth_core::model::Client;

/// Largest form a page accepts.
pub const MAX_PAGE_FORM: usize = 16 * 1024;

/// What every page shows around its content.
pub struct Chrome {
    /// The app being signed in to (or "tcauth" when there is none).
    pub app: String,
    /// Its first letter, for the logo tile.
    pub initial: String,
    pub subtitle: &'static str,
    /// The issuer's host, in the footer.
    pub host: String,
}

impl Chrome {
    pub fn new(app: &AppState, app_name: Option<&str>) -> Self {
        let name = app_name.unwrap_or("tcauth");
        let initial = name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_else(|| "•".into());
        let host = app
            .settings
            .issuer
            .split_once("://")
            .map_or(app.settings.issuer.as_str(), |(_, h)| h)
            .to_string();
        Chrome {
            app: name.to_string(),
            initial,
            subtitle: "Secure sign-in",
            host,
        }
    }
}

/// Renders `page` with `status` as `text/html; charset=utf-8`.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// 303 See Other to `location`, with an optional `Set-Cookie`.
pub fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => return error::internal(),
    }
    if let Some(c) = cookie {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

/// Adds a `Set-Cookie` to a response.
pub fn with_cookie(mut r: Response, cookie: HeaderValue) -> Response {
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}

/// A page request in a live interaction: the interaction and its client.
pub struct Ctx {
    pub ix: Interaction,
    pub client: Client,
    pub now: i64,
}

impl Ctx {
    /// 303 to the page of the interaction's stage, saving the interaction.
    pub fn advance(&self, app: &AppState) -> Response {
        see_other(
            self.ix.stage.path(),
            Some(session::set_cookie(app, &self.ix, self.now)),
        )
    }

    /// The page's frame, named after the app (a web dialog's `partnerName`, if any).
    pub fn chrome(&self, app: &AppState) -> Chrome {
        let name = match &self.ix.web {
            Some(w) => &w.partner_name,
            None => &self.client.name,
        };
        Chrome::new(app, Some(name))
    }
}

/// For a page's GET: the interaction of the cookie and its client, or the error page to show.
pub async fn load(app: &AppState, headers: &HeaderMap) -> Result<Ctx, Response> {
    let now = crate::now();
    let ix = session::read(app, headers, now).map_err(|m| match m {
        Missing::Absent => error::no_session(app),
        Missing::Expired => error::expired(app),
    })?;
    let client = app
        .db(app.store.get_client(&ix.client_id))
        .await
        .map_err(|e| error::db(app, e))?
        .ok_or_else(|| error::unknown_client(app))?;
    Ok(Ctx { ix, client, now })
}

/// For a page's POST: reads the form, then requires the interaction's cookie and its CSRF
/// token (else 403, nothing changed), then loads the client.
pub async fn load_post(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Ctx, Form), Response> {
    let bytes = crate::oauth::read_body(headers, body, MAX_PAGE_FORM)
        .await
        .map_err(|_| error::bad_form(app))?;
    form::check_content_type(headers).map_err(|_| error::bad_form(app))?;
    let form = form::parse(&bytes).map_err(|_| error::bad_form(app))?;
    let now = crate::now();
    let ix = match session::read(app, headers, now) {
        Ok(ix) => ix,
        Err(Missing::Expired) => return Err(error::expired(app)),
        Err(Missing::Absent) => return Err(error::forbidden(app)),
    };
    if !ix.csrf_ok(form.get("csrf")) {
        return Err(error::forbidden(app));
    }
    let client = app
        .db(app.store.get_client(&ix.client_id))
        .await
        .map_err(|e| error::db(app, e))?
        .ok_or_else(|| error::unknown_client(app))?;
    Ok((Ctx { ix, client, now }, form))
}
