//! Page 3, first sign-in of a new number: `GET /v1/auth/name` asks for first and last name
//! (the name rule of CONTRACT.md §6), `POST` creates the user with the verified number.

use super::session::Stage;
use super::{error, html, load, load_post, Chrome, Ctx};
use crate::state::{App, AppState};
use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tcauth_core::model::{User, UserStatus};
use tcauth_core::otp::person_name;
use tcauth_core::phone;
use tcauth_core::validate::new_sub;
use tcauth_store::StoreError;

#[derive(Template)]
#[template(path = "name.html")]
pub struct NamePage<'a> {
    pub chrome: Chrome,
    pub csrf: &'a str,
    pub phone: String,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub given_error: Option<&'static str>,
    pub family_error: Option<&'static str>,
}

fn render(
    app: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    names: (&str, &str),
    errors: (Option<&'static str>, Option<&'static str>),
) -> Response {
    html(
        status,
        &NamePage {
            chrome: ctx.chrome(app),
            csrf: &ctx.ix.csrf,
            phone: phone::display(ctx.ix.phone.as_deref().unwrap_or("")),
            given_name: names.0,
            family_name: names.1,
            given_error: errors.0,
            family_error: errors.1,
        },
    )
}

pub async fn show(State(app): State<App>, headers: HeaderMap) -> Response {
    match load(&app, &headers).await {
        Ok(ctx) if ctx.ix.stage == Stage::Name => {
            render(&app, &ctx, StatusCode::OK, ("", ""), (None, None))
        }
        Ok(ctx) => super::see_other(ctx.ix.stage.path(), None),
        Err(r) => r,
    }
}

pub async fn submit(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let (mut ctx, form) = match load_post(&app, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if ctx.ix.stage != Stage::Name {
        return super::see_other(ctx.ix.stage.path(), None);
    }
    let raw = (
        form.get("given_name").unwrap_or(""),
        form.get("family_name").unwrap_or(""),
    );
    let given = person_name(raw.0);
    let family = person_name(raw.1);
    let (Some(given), Some(family)) = (given.clone(), family.clone()) else {
        const GIVEN: &str =
            "Enter your first name: up to 128 characters, with at least one letter.";
        const FAMILY: &str =
            "Enter your last name: up to 128 characters, with at least one letter.";
        let errors = (
            given.is_none().then_some(GIVEN),
            family.is_none().then_some(if given.is_none() {
                "Enter your last name too."
            } else {
                FAMILY
            }),
        );
        return render(&app, &ctx, StatusCode::BAD_REQUEST, raw, errors);
    };
    let (Some(e164), Some(country)) = (ctx.ix.phone.clone(), ctx.ix.country.clone()) else {
        return error::no_session(&app);
    };
    let sub = match create(&app, &e164, &country, given, family, ctx.now).await {
        Ok(sub) => sub,
        Err(e) => return error::db(&app, e),
    };
    ctx.ix.sub = Some(sub);
    ctx.ix.stage = Stage::Consent;
    ctx.advance(&app)
}

/// Creates the user; if the number got an account meanwhile (another tab, the admin API), that
/// account is the one signing in.
async fn create(
    app: &AppState,
    e164: &str,
    country: &str,
    given: String,
    family: String,
    now: i64,
) -> Result<i64, StoreError> {
    for _ in 0..3 {
        let user = User {
            sub: new_sub(),
            phone_e164: e164.to_string(),
            phone_country: country.to_string(),
            phone_verified: true,
            given_name: Some(given.clone()),
            family_name: Some(family.clone()),
            email: None,
            picture: None,
            gender: None,
            address: None,
            status: UserStatus::Active,
            created_at: now,
        };
        match app.db(app.store.create_user(&user)).await {
            Ok(()) => {
                tracing::info!("user created at first sign-in");
                return Ok(user.sub);
            }
            Err(StoreError::Conflict(_)) => {
                if let Some(u) = app.db(app.store.get_user_by_phone(e164)).await? {
                    return Ok(u.sub);
                }
                // A sub collision (2^-53): draw another.
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Internal("could not create a user".into()))
}
