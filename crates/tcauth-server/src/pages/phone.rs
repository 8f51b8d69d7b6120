//! Page 1, the phone number: `GET /v1/auth/phone` shows the form, `POST` validates the number
//! with the phone-number data and sends a one-time code.
//!
//! The answer is the same whether or not the number has an account: a code is sent either way,
//! and the account is looked up only after the code is verified.

use super::codes::{self, LoginCodes, SendFailure};
use super::countries::{self, Country};
use super::session::Stage;
use super::{html, load, load_post, Chrome, Ctx};
use crate::form::Form;
use crate::state::{App, AppState};
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;
use tcauth_core::phone::{self, PhoneError};

#[derive(Template)]
#[template(path = "phone.html")]
pub struct PhonePage<'a> {
    pub chrome: Chrome,
    pub csrf: &'a str,
    pub countries: &'static [Country],
    pub country: &'a str,
    pub phone: &'a str,
    pub error: Option<String>,
}

/// The phone page may be shown before a code is sent and while one is awaited ("Change
/// number"); after the number is verified it is not shown again.
fn allowed(stage: Stage) -> bool {
    matches!(stage, Stage::Phone | Stage::Code)
}

pub async fn show(State(app): State<App>, headers: HeaderMap) -> Response {
    let ctx = match load(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !allowed(ctx.ix.stage) {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    let country = ctx
        .ix
        .country
        .clone()
        .unwrap_or_else(|| app.settings.default_country.clone());
    render(&app, &ctx, StatusCode::OK, &country, "", None)
}

fn render(
    app: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    country: &str,
    phone: &str,
    error: Option<String>,
) -> Response {
    html(
        status,
        &PhonePage {
            chrome: ctx.chrome(app),
            csrf: &ctx.ix.csrf,
            countries: countries::all(),
            country,
            phone,
            error,
        },
    )
}

pub async fn submit(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (mut ctx, form) = match load_post(&app, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !allowed(ctx.ix.stage) {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    let country = chosen_country(&form, &app.settings.default_country).to_string();
    let input = form.get("phone").unwrap_or("").trim();
    let number = match tcauth_core::otp::parse_sms_number(input, Some(&country)) {
        Ok(p) => p,
        Err(e) => {
            let message = match e {
                _ if input.is_empty() => "Enter your phone number.".to_string(),
                PhoneError::Invalid => format!(
                    "That is not a mobile number of {}. Check the number and the country.",
                    country_name(&country)
                ),
                _ => "That does not look like a phone number. Check the number and the country."
                    .to_string(),
            };
            return render(
                &app,
                &ctx,
                StatusCode::BAD_REQUEST,
                &country,
                input,
                Some(message),
            );
        }
    };
    let codes = codes::for_app(&app);
    match codes
        .send(&number, &ctx.ix.client_id, &ctx.ix.otp_binding(), peer.ip())
        .await
    {
        Ok(sent) => {
            if let Some(old) = ctx.ix.challenge.take() {
                codes.withdraw(&old).await;
            }
            ctx.ix.phone = Some(number.e164);
            ctx.ix.country = Some(number.country);
            ctx.ix.challenge = Some(sent.challenge_id);
            ctx.ix.resend_at = Some(ctx.now + sent.resend_after as i64);
            ctx.ix.notice = None;
            ctx.ix.stage = Stage::Code;
            ctx.advance(&app)
        }
        Err(SendFailure::Limited { retry_after }) => {
            let mut r = render(
                &app,
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &country,
                input,
                Some(format!(
                    "Too many codes were asked for. Try again in {}.",
                    wait_words(retry_after)
                )),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after.max(1).into());
            r
        }
        // A test app's number that is not one of its test numbers (CONTRACT.md §11): the
        // page again, 403, with the contract's sentence; no code was sent.
        Err(SendFailure::NotRegistered) => render(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            &country,
            input,
            Some(crate::otp::NOT_REGISTERED.into()),
        ),
        Err(SendFailure::Failed) => {
            let mut r = render(
                &app,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                &country,
                input,
                Some("We could not send the code. Try again in a minute.".into()),
            );
            r.headers_mut().insert(header::RETRY_AFTER, 60.into());
            r
        }
    }
}

/// The form's `country` when the phone-number data knows it, else `default`.
pub fn chosen_country<'a>(form: &'a Form, default: &'a str) -> &'a str {
    form.non_empty("country")
        .filter(|c| phone::is_known_country(c))
        .unwrap_or(default)
}

fn country_name(code: &str) -> &'static str {
    countries::all()
        .iter()
        .find(|c| c.code == code)
        .map_or("that country", |c| c.name)
}

/// `45` → "45 seconds", `300` → "5 minutes", `7200` → "2 hours".
pub fn wait_words(secs: u64) -> String {
    let secs = secs.max(1);
    let (n, unit) = if secs < 90 {
        (secs, "second")
    } else if secs < 90 * 60 {
        (secs.div_ceil(60), "minute")
    } else {
        (secs.div_ceil(3600), "hour")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::wait_words;

    #[test]
    fn waits_in_words() {
        assert_eq!(wait_words(0), "1 second");
        assert_eq!(wait_words(45), "45 seconds");
        assert_eq!(wait_words(300), "5 minutes");
        assert_eq!(wait_words(61 * 60), "61 minutes");
        assert_eq!(wait_words(7200), "2 hours");
    }
}
