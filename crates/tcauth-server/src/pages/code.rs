//! Page 2, the one-time code: `GET /v1/auth/code` shows the form, `POST` checks the code,
//! `POST /v1/auth/code/resend` sends a new one once the cooldown has passed.
//!
//! After the right code, a known number goes to consent and a new one to the name page; a
//! blocked account ends here.

use super::codes::{self, Checked, LoginCodes, SendFailure};
use super::phone::wait_words;
use super::session::{Notice, Stage};
use super::{error, html, load, load_post, Chrome, Ctx};
use crate::form::Form;
use crate::state::{App, AppState};
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;
use tcauth_core::model::UserStatus;
use tcauth_core::phone::{self, Phone};

#[derive(Template)]
#[template(path = "code.html")]
pub struct CodePage<'a> {
    pub chrome: Chrome,
    pub csrf: &'a str,
    pub phone: String,
    /// Seconds until "Send a new code" appears.
    pub wait: i64,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
}

fn render(app: &AppState, ctx: &Ctx, status: StatusCode, error: Option<String>) -> Response {
    let notice = ctx.ix.notice.map(|n| match n {
        Notice::CodeResent => "We sent you a new code.",
    });
    html(
        status,
        &CodePage {
            chrome: ctx.chrome(app),
            csrf: &ctx.ix.csrf,
            phone: phone::display(ctx.ix.phone.as_deref().unwrap_or("")),
            wait: ctx.ix.resend_at.map_or(0, |t| (t - ctx.now).max(0)),
            notice,
            error,
        },
    )
}

pub async fn show(State(app): State<App>, headers: HeaderMap) -> Response {
    let mut ctx = match load(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if ctx.ix.stage != Stage::Code {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    let r = render(&app, &ctx, StatusCode::OK, None);
    if ctx.ix.notice.take().is_some() {
        // Shown once.
        return super::with_cookie(r, super::session::set_cookie(&app, &ctx.ix, ctx.now));
    }
    r
}

pub async fn submit(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let (mut ctx, form) = match load_post(&app, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if ctx.ix.stage != Stage::Code {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    ctx.ix.notice = None;
    let (Some(challenge), Some(e164)) = (ctx.ix.challenge.clone(), ctx.ix.phone.clone()) else {
        return error::no_session(&app);
    };
    let code = entered_code(&form);
    if !tcauth_core::otp::is_well_formed(&code) {
        let msg = "Enter the 6-digit code from the text message.";
        return render(&app, &ctx, StatusCode::BAD_REQUEST, Some(msg.into()));
    }
    let bad = |msg: String| render(&app, &ctx, StatusCode::BAD_REQUEST, Some(msg));
    match codes::for_app(&app)
        .check(&challenge, &e164, &ctx.ix.otp_binding(), &code)
        .await
    {
        Checked::Accepted => {}
        Checked::Wrong { attempts_left: 0 } => {
            return bad("That code is not right, and it cannot be used any more. \
                        Ask for a new code."
                .into())
        }
        Checked::Wrong { attempts_left } => {
            return bad(format!(
                "That code is not right. You have {attempts_left} {} left.",
                if attempts_left == 1 { "try" } else { "tries" }
            ))
        }
        Checked::Locked => {
            return bad("Too many wrong codes. Ask for a new code.".into());
        }
        Checked::Expired => {
            return bad("This code has expired or was already used. Ask for a new code.".into())
        }
        Checked::Unavailable => {
            let msg = "We could not check the code just now. Try again in a minute.";
            return render(
                &app,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(msg.into()),
            );
        }
    }
    ctx.ix.auth_time = Some(ctx.now);
    ctx.ix.challenge = None;
    match app.db(app.store.get_user_by_phone(&e164)).await {
        Ok(Some(u)) if u.status == UserStatus::Active => {
            ctx.ix.sub = Some(u.sub);
            ctx.ix.stage = Stage::Consent;
        }
        Ok(Some(_)) => {
            tracing::info!(client_id = %ctx.ix.client_id, "sign-in refused: account blocked");
            return super::with_cookie(
                error::page(
                    &app,
                    StatusCode::FORBIDDEN,
                    Some(&ctx.client.name),
                    "This account cannot sign in",
                    "The account of this phone number is blocked.",
                ),
                super::session::clear_cookie(&app),
            );
        }
        Ok(None) => ctx.ix.stage = Stage::Name,
        Err(e) => return error::db(&app, e),
    }
    ctx.advance(&app)
}

/// The code as typed, without the spaces and dashes people put in it.
pub fn entered_code(form: &Form) -> String {
    form.get("code")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

pub async fn resend(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (mut ctx, _) = match load_post(&app, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if ctx.ix.stage != Stage::Code {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    ctx.ix.notice = None;
    let (Some(e164), Some(country)) = (ctx.ix.phone.clone(), ctx.ix.country.clone()) else {
        return error::no_session(&app);
    };
    let wait = ctx.ix.resend_at.map_or(0, |t| t - ctx.now);
    if wait > 0 {
        let msg = format!("You can ask for a new code in {}.", wait_words(wait as u64));
        let mut r = render(&app, &ctx, StatusCode::TOO_MANY_REQUESTS, Some(msg));
        r.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return r;
    }
    let number = Phone { e164, country };
    let codes = codes::for_app(&app);
    match codes
        .send(&number, &ctx.ix.client_id, &ctx.ix.otp_binding(), peer.ip())
        .await
    {
        Ok(sent) => {
            if let Some(old) = ctx.ix.challenge.take() {
                codes.withdraw(&old).await;
            }
            ctx.ix.challenge = Some(sent.challenge_id);
            ctx.ix.resend_at = Some(ctx.now + sent.resend_after as i64);
            ctx.ix.notice = Some(Notice::CodeResent);
            ctx.advance(&app)
        }
        Err(SendFailure::Limited { retry_after }) => {
            let msg = format!(
                "Too many codes were asked for. Try again in {}.",
                wait_words(retry_after)
            );
            let mut r = render(&app, &ctx, StatusCode::TOO_MANY_REQUESTS, Some(msg));
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.max(1).into());
            r
        }
        // The test number was removed since its first code.
        Err(SendFailure::NotRegistered) => render(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            Some(crate::otp::NOT_REGISTERED.into()),
        ),
        Err(SendFailure::Failed) => {
            let msg = "We could not send the code. Try again in a minute.";
            let mut r = render(
                &app,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(msg.into()),
            );
            r.headers_mut().insert(header::RETRY_AFTER, 60.into());
            r
        }
    }
}
