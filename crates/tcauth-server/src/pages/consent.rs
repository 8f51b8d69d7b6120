//! Page 4, consent: `GET /v1/auth/consent` names the app, each requested scope in plain words
//! and the phone number; `POST` with `decision=allow` mints the authorization code (as the
//! admin API's authorizations do) and returns to the app with `code`, `state` and `iss`;
//! `decision=deny` returns `error=access_denied`. Either way the interaction ends, and for
//! good: it is recorded as finished in the store ([`Store::finish_interaction`], in the same
//! transaction as the code), and its cookie, replayed, gets the "sign-in expired" page here
//! (every other page sends a consent-stage cookie here).
//!
//! [`Store::finish_interaction`]: tcauth_store::Store::finish_interaction

use super::authorize::with_params;
use super::security::csp_allowing_redirect_to;
use super::session::{clear_cookie, Stage};
use super::{error, html, load, load_post, see_other, Chrome, Ctx};
use crate::state::{App, AppState};
use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tcauth_core::model::{AuthCode, Branding, Client, UserStatus};
use tcauth_core::secret::{new_ordered_id, new_token, TokenHash};
use tcauth_core::{phone, Scope, ScopeSet};

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub chrome: Chrome,
    pub csrf: &'a str,
    pub heading: String,
    /// (what, in detail) per scope.
    pub scopes: Vec<(&'static str, &'static str)>,
    pub phone: String,
    pub allow: &'static str,
    pub color: Option<String>,
    pub shape: &'static str,
    pub privacy_url: Option<&'a str>,
    pub terms_url: Option<&'a str>,
}

/// A scope in plain words: what the app gets, and what that means.
pub fn describe(s: Scope) -> (&'static str, &'static str) {
    match s {
        Scope::Openid => (
            "Sign you in",
            "Know it is you each time, with an ID that stays the same",
        ),
        Scope::Profile => ("See your name and profile", "Your name, picture and gender"),
        Scope::Phone => ("See your phone number", "The number you just verified"),
        Scope::Email => ("See your email address", "If your profile has one"),
        Scope::Address => ("See your address", "If your profile has one"),
        Scope::OfflineAccess => (
            "Keep you signed in",
            "Use this access when you are not using the app, until you sign out",
        ),
    }
}

/// The app's branding, or the defaults.
pub fn branding_of(client: &Client) -> Branding {
    client.branding.clone().unwrap_or_default()
}

/// `#rrggbb` → the text colour readable on it, with the background, as a style value.
fn button_style(color: &str) -> Option<String> {
    let hex = color.strip_prefix('#')?;
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    let (r, g, b) = (c(0)?, c(2)?, c(4)?);
    // Relative luminance, roughly (ITU-R BT.709 weights on gamma-encoded values).
    let l = 0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b);
    let ink = if l > 160.0 { "#1d2329" } else { "#ffffff" };
    Some(format!("{color};color:{ink};border-color:{color}"))
}

fn render(app: &AppState, ctx: &Ctx, status: StatusCode) -> Response {
    let b = branding_of(&ctx.client);
    let scopes = ScopeSet::parse(&ctx.ix.scopes).unwrap_or_default();
    let mut r = html(
        status,
        &ConsentPage {
            chrome: ctx.chrome(app),
            csrf: &ctx.ix.csrf,
            heading: format!("{} {}", b.heading.words(), ctx.client.name),
            scopes: scopes.iter().map(describe).collect(),
            phone: phone::display(ctx.ix.phone.as_deref().unwrap_or("")),
            allow: b.button_text.words(),
            color: b.button_color.as_deref().and_then(button_style),
            shape: b.button_shape.as_str(),
            privacy_url: b.privacy_url.as_deref(),
            terms_url: b.terms_url.as_deref(),
        },
    );
    allow_redirect(&mut r, &ctx.ix.redirect_uri);
    r
}

/// This page's form is answered with a 303 to the app, which `form-action` must admit.
fn allow_redirect(r: &mut Response, redirect_uri: &str) {
    if let Ok(v) = HeaderValue::from_str(&csp_allowing_redirect_to(redirect_uri)) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The page to show instead when this interaction was already finished (its cookie replayed
/// after Allow or Deny): the one an expired sign-in gets.
async fn unfinished(app: &AppState, ctx: &Ctx) -> Result<(), Response> {
    match app
        .db(app.store.interaction_finished(&ctx.ix.finish_key()))
        .await
    {
        Ok(false) => Ok(()),
        Ok(true) => Err(replayed(app, ctx)),
        Err(e) => Err(error::db(app, e)),
    }
}

fn replayed(app: &AppState, ctx: &Ctx) -> Response {
    tracing::info!(client_id = %ctx.ix.client_id, "finished sign-in replayed");
    error::expired(app)
}

pub async fn show(State(app): State<App>, headers: HeaderMap) -> Response {
    match load(&app, &headers).await {
        Ok(ctx) if ctx.ix.stage == Stage::Consent => match unfinished(&app, &ctx).await {
            Ok(()) => match &ctx.ix.web {
                Some(web) => super::web::show(&app, &ctx, web).await,
                None => render(&app, &ctx, StatusCode::OK),
            },
            Err(r) => r,
        },
        Ok(ctx) => see_other(ctx.ix.stage.path(), None),
        Err(r) => r,
    }
}

pub async fn submit(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let (ctx, form) = match load_post(&app, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if ctx.ix.stage != Stage::Consent {
        return see_other(ctx.ix.stage.path(), None);
    }
    // A replay shows as one whatever else changed since (the store decides below anyway).
    if let Err(r) = unfinished(&app, &ctx).await {
        return r;
    }
    // A Mobile Websites dialog answers its own way (to the callback URL, not a redirect).
    if let Some(web) = &ctx.ix.web {
        return super::web::submit(&app, &ctx, web, form.get("decision")).await;
    }
    // The app may have changed since the sign-in began: its redirect URI must still be its.
    if !ctx.client.redirect_uris.contains(&ctx.ix.redirect_uri) {
        return error::bad_authorization(
            &app,
            "The return address is no longer registered for this app.",
        );
    }
    let ix = &ctx.ix;
    let code = match form.get("decision") {
        Some("allow") => match mint(&app, &ctx).await {
            Ok(c) => Some(c),
            Err(r) => return r,
        },
        Some("deny") => None,
        _ => return error::bad_form(&app),
    };
    // The one decision: of every submission of this interaction, only the one that records it
    // as finished answers with a redirect; the code is stored in the same transaction.
    let key = ix.finish_key();
    let finished = app.store.finish_interaction(
        &key,
        ix.finish_kept_until(),
        code.as_ref().map(|(_, record)| record),
    );
    match app.db(finished).await {
        Ok(true) => {}
        Ok(false) => return replayed(&app, &ctx),
        Err(e) => return error::db(&app, e),
    }
    let mut params: Vec<(&str, &str)> = Vec::new();
    match &code {
        Some((code, _)) => {
            params.push(("code", code));
            tracing::info!(client_id = %ix.client_id, "sign-in allowed");
        }
        None => {
            params.push(("error", "access_denied"));
            params.push(("error_description", "The user denied the request"));
            tracing::info!(client_id = %ix.client_id, "sign-in denied");
        }
    }
    if let Some(s) = &ix.state {
        params.push(("state", s));
    }
    params.push(("iss", &app.settings.issuer));
    let mut r = see_other(
        &with_params(&ix.redirect_uri, &params),
        Some(clear_cookie(&app)),
    );
    allow_redirect(&mut r, &ix.redirect_uri);
    r
}

/// The authorization code for this interaction and its record, not stored yet (it is stored
/// with the interaction's end, [`Store::finish_interaction`]); or the page to show instead.
///
/// [`Store::finish_interaction`]: tcauth_store::Store::finish_interaction
async fn mint(app: &AppState, ctx: &Ctx) -> Result<(String, AuthCode), Response> {
    let ix = &ctx.ix;
    let (Some(sub), Some(auth_time)) = (ix.sub, ix.auth_time) else {
        return Err(error::no_session(app));
    };
    let scopes = ScopeSet::parse(&ix.scopes).unwrap_or_default();
    if scopes.is_empty() || !scopes.is_subset_of(ctx.client.scopes) {
        return Err(error::bad_authorization(
            app,
            "This app may no longer ask for what it asked for.",
        ));
    }
    match app.db(app.store.get_user(sub)).await {
        Ok(Some(u)) if u.status == UserStatus::Active => {}
        Ok(_) => {
            return Err(error::page(
                app,
                StatusCode::FORBIDDEN,
                Some(&ctx.client.name),
                "This account cannot sign in",
                "The account of this phone number is blocked or was deleted.",
            ))
        }
        Err(e) => return Err(error::db(app, e)),
    }
    let code = new_token(crate::now_ms());
    let ttl = app.settings.code_ttl.as_secs() as i64;
    let record = AuthCode {
        hash: TokenHash::of(&code),
        family_id: new_ordered_id(crate::now_ms()),
        client_id: ix.client_id.clone(),
        sub,
        scopes,
        code_challenge: ix.code_challenge.clone(),
        redirect_uri: Some(ix.redirect_uri.clone()),
        nonce: ix.nonce.clone(),
        auth_time,
        expires_at: ctx.now + ttl,
        consumed_at: None,
    };
    Ok((code, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_text_colour_follows_the_background() {
        assert_eq!(
            button_style("#1a73e8").as_deref(),
            Some("#1a73e8;color:#ffffff;border-color:#1a73e8")
        );
        assert!(button_style("#ffeb3b").unwrap().contains("color:#1d2329"));
        assert_eq!(button_style("red"), None);
    }
}
