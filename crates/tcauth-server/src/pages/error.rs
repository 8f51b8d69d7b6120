//! The error page: what went wrong in plain words, never a redirect and never a link back to
//! an app whose identity is in doubt (checklist A2, B5).

use super::{html, Chrome};
use crate::error::{store_failure, Surface};
use crate::state::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub chrome: Chrome,
    pub title: &'a str,
    pub message: &'a str,
    pub advice: &'a str,
}

const START_AGAIN: &str = "Close this page and start signing in again from the app.";

/// An error page with `status`, `title` and `message`; `app_name` when the app is known.
pub fn page(
    app: &AppState,
    status: StatusCode,
    app_name: Option<&str>,
    title: &str,
    message: &str,
) -> Response {
    html(
        status,
        &ErrorPage {
            chrome: Chrome::new(app, app_name),
            title,
            message,
            advice: START_AGAIN,
        },
    )
}

/// `/v1/auth` with a client or redirect URI we cannot trust: 400, no redirect.
pub fn bad_authorization(app: &AppState, message: &str) -> Response {
    page(
        app,
        StatusCode::BAD_REQUEST,
        None,
        "This sign-in link is not valid",
        message,
    )
}

pub fn unknown_client(app: &AppState) -> Response {
    bad_authorization(app, "The app that sent you here is not registered.")
}

/// A page visited without a sign-in in progress.
pub fn no_session(app: &AppState) -> Response {
    page(
        app,
        StatusCode::BAD_REQUEST,
        None,
        "No sign-in in progress",
        "This page only works during a sign-in, and this browser has none (cookies may be \
         blocked, or the sign-in already finished).",
    )
}

pub fn expired(app: &AppState) -> Response {
    page(
        app,
        StatusCode::BAD_REQUEST,
        None,
        "This sign-in has expired",
        "Sign-ins must be finished within 10 minutes.",
    )
}

/// A POST without the interaction's cookie or with the wrong CSRF token (checklist B3).
pub fn forbidden(app: &AppState) -> Response {
    page(
        app,
        StatusCode::FORBIDDEN,
        None,
        "We could not verify this request",
        "The form did not come from this sign-in. It may have been opened in another tab or \
         sent by another site.",
    )
}

pub fn bad_form(app: &AppState) -> Response {
    page(
        app,
        StatusCode::BAD_REQUEST,
        None,
        "Something is wrong with this request",
        "The form could not be read.",
    )
}

/// The sign-in pages' reading of a store failure: an error page, 503 with `Retry-After: 60`
/// for an outage, 500 for a bug.
pub enum Pages {}

impl Surface for Pages {
    /// The page, rendered with the app's chrome.
    type Answer = fn(&AppState) -> Response;
    const NAME: &'static str = "sign-in pages";
    fn unavailable() -> Self::Answer {
        unavailable
    }
    fn internal() -> Self::Answer {
        went_wrong
    }
}

/// A store failure, as the pages show it (through [`store_failure`], the one match).
pub fn db(app: &AppState, e: tcauth_store::StoreError) -> Response {
    store_failure::<Pages>(e)(app)
}

fn unavailable(app: &AppState) -> Response {
    let mut r = page(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "Sign-in is temporarily unavailable",
        "Please try again in a minute.",
    );
    r.headers_mut()
        .insert(axum::http::header::RETRY_AFTER, 60.into());
    r
}

fn went_wrong(app: &AppState) -> Response {
    page(
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "Something went wrong",
        "We could not finish this step. Please try again.",
    )
}

/// When even the error page cannot be built.
pub fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
}
