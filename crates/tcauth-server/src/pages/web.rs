//! `GET /v1/web/verify`: Truecaller's Mobile Websites dialog as a web page (CONTRACT.md §9).
//!
//! The partner's page opens the deep link `truecallersdk://truesdk/web_verify?…`; pointed here
//! instead, the same query starts a dialog: the request is checked (the app key, the
//! `requestNonce`, the client's callback URL, `ttl`), the nonce is spent, and the browser goes
//! through the sign-in pages (phone number, one-time code, name: their sessions, limits and
//! CSRF protection, [`super::session`]) to the consent stage, which for a dialog shows
//! [`WebRequest`]'s options rendered as Truecaller documents them. Continue mints an access
//! token (10 minutes, this client, [`WEB_SCOPES`]); Continue, Reject and the skip footer each
//! queue exactly one callback (`crate::callbacks`) in the same store transaction that ends
//! the dialog ([`tcauth_store::Store::finish_web_interaction`]), before the page answers.
//!
//! Option values outside Truecaller's lists fall back to the defaults (the deep link is built
//! by partners' pages, and Truecaller's app ignores what it does not know); a bad request
//! (the rules of §9) is an error page with 400 and nothing is posted.

use super::authorize::{One, Params};
pub use super::dialog::*;
use super::session::{self, Interaction, MAX_COOKIE};
use super::{error, html, see_other, Chrome, Ctx};
use crate::callbacks::{self, Body};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use tcauth_core::model::{AccessToken, UserStatus};
use tcauth_core::secret::{hmac_sha256, new_ordered_id, new_token, TokenHash};
use tcauth_core::{phone, ScopeSet};

/// How long a dialog's access token lives, and so how long its callback is retried.
pub const WEB_TOKEN_TTL: i64 = 600;

/// `ttl` when the deep link has none, in milliseconds (and the longest honoured: a dialog
/// lives as long as a sign-in).
pub const DEFAULT_TTL_MS: i64 = session::INTERACTION_TTL * 1000;

/// How long a spent `requestNonce` is remembered after its dialog's deadline (a day, as the
/// delivery log keeps deliveries): a replayed deep link is refused for at least that long.
pub const NONCE_KEPT: i64 = tcauth_store::DELIVERY_LOG_KEEP;

/// Longest `partnerName` shown (longer: the client's registered name).
const MAX_PARTNER_NAME: usize = 64;
/// Longest `privacyUrl`/`termsUrl` linked (longer: not linked).
const MAX_LINK: usize = 512;

/// The parameters whose repetition is an error (the others are options, or ignored).
const KNOWN: [&str; 16] = [
    "type",
    "requestNonce",
    "partnerKey",
    "partnerName",
    "lang",
    "privacyUrl",
    "termsUrl",
    "loginPrefix",
    "loginSuffix",
    "ctaPrefix",
    "ctaColor",
    "ctaTextColor",
    "btnShape",
    "skipOption",
    "ttl",
    "title",
];

/// The words of the dialog in one language.
struct Words {
    lang: &'static str,
    /// The title from prefix and suffix.
    title: fn(LoginPrefix, LoginSuffix) -> String,
    /// The button from the CTA prefix and the number.
    cta: fn(CtaPrefix, &str) -> String,
    skip: fn(SkipOption) -> &'static str,
    /// "{partner} will receive:".
    will_receive: fn(&str) -> String,
    reject: &'static str,
    name: &'static str,
    phone: &'static str,
    email: &'static str,
    address: &'static str,
    picture: &'static str,
    agree: &'static str,
    privacy: &'static str,
    terms: &'static str,
    and: &'static str,
    shared_title: &'static str,
    shared: fn(&str) -> String,
    declined_title: &'static str,
    declined: fn(&str) -> String,
}

const EN: Words = Words {
    lang: "en",
    title: |p, s| {
        let p = match p {
            LoginPrefix::GetStarted => "Get started",
            LoginPrefix::Continue => "Continue",
            LoginPrefix::PlaceOrder => "Place your order",
            LoginPrefix::CompleteOrder => "Complete your order",
            LoginPrefix::Checkout => "Check out",
        };
        let s = match s {
            LoginSuffix::Login => "to log in",
            LoginSuffix::Signup => "to sign up",
            LoginSuffix::LoginSignup => "to log in or sign up",
            LoginSuffix::Register => "to register",
            LoginSuffix::Signin => "to sign in",
            LoginSuffix::VerifyMobile => "to verify your mobile number",
        };
        format!("{p} {s}")
    },
    cta: |c, number| match c {
        CtaPrefix::Use => format!("Use {number}"),
        CtaPrefix::ContinueWith => format!("Continue with {number}"),
        CtaPrefix::ProceedWith => format!("Proceed with {number}"),
    },
    skip: |s| match s {
        SkipOption::UseAnotherNum => "Use another mobile number",
        SkipOption::UseAnotherMethod => "Use another method",
        SkipOption::EnterDetailsManually => "Enter details manually",
        SkipOption::Later => "Later",
    },
    will_receive: |p| format!("{p} will receive:"),
    reject: "Don’t share",
    name: "Name",
    phone: "Phone number",
    email: "Email address",
    address: "Address",
    picture: "Profile picture",
    agree: "By continuing, you agree to the",
    privacy: "privacy policy",
    terms: "terms of service",
    and: "and",
    shared_title: "Done",
    shared: |p| format!("Your profile was shared with {p}. You can return to {p} now."),
    declined_title: "Nothing was shared",
    declined: |p| format!("You can return to {p} now."),
};

const HI: Words = Words {
    lang: "hi",
    title: |p, s| {
        let p = match p {
            LoginPrefix::GetStarted => "शुरू करें",
            LoginPrefix::Continue => "जारी रखें",
            LoginPrefix::PlaceOrder => "ऑर्डर करें",
            LoginPrefix::CompleteOrder => "ऑर्डर पूरा करें",
            LoginPrefix::Checkout => "चेकआउट करें",
        };
        let s = match s {
            LoginSuffix::Login => "लॉग इन के लिए",
            LoginSuffix::Signup => "साइन अप के लिए",
            LoginSuffix::LoginSignup => "लॉग इन या साइन अप के लिए",
            LoginSuffix::Register => "रजिस्टर करने के लिए",
            LoginSuffix::Signin => "साइन इन के लिए",
            LoginSuffix::VerifyMobile => "अपना मोबाइल नंबर सत्यापित करने के लिए",
        };
        format!("{s} {p}")
    },
    cta: |c, number| match c {
        CtaPrefix::Use => format!("{number} इस्तेमाल करें"),
        CtaPrefix::ContinueWith => format!("{number} के साथ जारी रखें"),
        CtaPrefix::ProceedWith => format!("{number} के साथ आगे बढ़ें"),
    },
    skip: |s| match s {
        SkipOption::UseAnotherNum => "दूसरा मोबाइल नंबर इस्तेमाल करें",
        SkipOption::UseAnotherMethod => "दूसरा तरीका इस्तेमाल करें",
        SkipOption::EnterDetailsManually => "विवरण खुद भरें",
        SkipOption::Later => "बाद में",
    },
    will_receive: |p| format!("{p} को यह जानकारी मिलेगी:"),
    reject: "साझा न करें",
    name: "नाम",
    phone: "फ़ोन नंबर",
    email: "ईमेल पता",
    address: "पता",
    picture: "प्रोफ़ाइल फ़ोटो",
    agree: "जारी रखकर, आप इनसे सहमत होते हैं:",
    privacy: "गोपनीयता नीति",
    terms: "सेवा की शर्तें",
    and: "और",
    shared_title: "हो गया",
    shared: |p| format!("आपकी प्रोफ़ाइल {p} के साथ साझा की गई। अब आप {p} पर लौट सकते हैं।"),
    declined_title: "कुछ भी साझा नहीं किया गया",
    declined: |p| format!("अब आप {p} पर लौट सकते हैं।"),
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Hi => &HI,
    }
}

#[derive(Template)]
#[template(path = "web_dialog.html")]
pub struct DialogPage<'a> {
    pub chrome: Chrome,
    pub lang: &'static str,
    pub csrf: &'a str,
    pub title: String,
    pub will_receive: String,
    /// (what, the value when shown).
    pub fields: Vec<(&'static str, String)>,
    pub cta: String,
    pub cta_style: Option<String>,
    pub reject: &'static str,
    pub skip: &'static str,
    pub shape: &'static str,
    pub agree: &'static str,
    pub privacy: Option<(&'static str, &'a str)>,
    pub terms: Option<(&'static str, &'a str)>,
    pub and: &'static str,
}

#[derive(Template)]
#[template(path = "web_done.html")]
pub struct DonePage {
    pub chrome: Chrome,
    pub lang: &'static str,
    pub shared: bool,
    pub title: &'static str,
    pub message: String,
}

/// `#rgb` or `#rrggbb` (hex digits), as given; anything else is `None` (the default colour).
pub fn hex_colour(v: Option<&str>) -> Option<String> {
    let v = v?;
    let hex = v.strip_prefix('#')?;
    ((hex.len() == 3 || hex.len() == 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("#{}", hex.to_ascii_lowercase()))
}

/// An `http(s)` link of at most [`MAX_LINK`] characters, else `None` (not linked).
pub fn http_link(v: Option<&str>) -> Option<String> {
    let v = v?;
    if v.len() > MAX_LINK {
        return None;
    }
    let as_https = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("http://") => format!("https://{}", &v[7..]),
        _ => v.to_string(),
    };
    tcauth_core::validate::check_https_url(&as_https)
        .ok()
        .map(|()| v.to_string())
}

/// `requestNonce`'s rule, shared with the signed profiles of §10: 8–64 visible ASCII
/// characters (no spaces or controls).
pub fn nonce_ok(n: &str) -> bool {
    tcauth_core::profile::is_valid_request_nonce(n)
}

/// `ttl` in milliseconds: a positive integer (`None`: not one), at most [`DEFAULT_TTL_MS`].
pub fn parse_ttl(v: &str) -> Option<i64> {
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if v.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(
        v.parse::<i64>()
            .map_or(DEFAULT_TTL_MS, |n| n.min(DEFAULT_TTL_MS)),
    )
}

/// The store key that spends a `requestNonce` of an app key: a keyed hash, under its own
/// label (so it never meets a finished interaction's key in the same table).
pub fn nonce_key(app_key: &str, nonce: &str) -> TokenHash {
    let mut msg = app_key.as_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(nonce.as_bytes());
    TokenHash(hmac_sha256(b"tcauth/v1/web-request-nonce", &msg))
}

fn bad_request(app: &AppState, app_name: Option<&str>, message: &str) -> Response {
    error::page(
        app,
        StatusCode::BAD_REQUEST,
        app_name,
        "This request is not valid",
        message,
    )
}

pub fn expired(app: &AppState, app_name: &str) -> Response {
    error::page(
        app,
        StatusCode::BAD_REQUEST,
        Some(app_name),
        "This request has expired",
        "Nothing was shared. Go back to the website and start again.",
    )
}

/// `GET /v1/web/verify?<the deep link's query>`.
pub async fn verify(State(app): State<crate::state::App>, uri: Uri) -> Response {
    let Some(p) = Params::parse(uri.query().unwrap_or("").as_bytes()) else {
        return bad_request(&app, None, "The request is not valid UTF-8.");
    };
    if let Some(name) = KNOWN.iter().find(|n| matches!(p.one(n), One::Repeated)) {
        return bad_request(&app, None, &format!("{name} is repeated."));
    }
    let Some(key) = p.value("partnerKey") else {
        return bad_request(&app, None, "The request does not name an app (partnerKey).");
    };
    let client = match app.db(app.store.get_client_by_app_key(key)).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return bad_request(&app, None, "The app that sent you here is not registered.")
        }
        Err(e) => return error::db(&app, e),
    };
    let name = Some(client.name.as_str());
    if client.callback_url.is_none() {
        return bad_request(&app, name, "This app has not registered a callback URL.");
    }
    let nonce = match p.value("requestNonce") {
        Some(n) if nonce_ok(n) => n.to_string(),
        _ => {
            return bad_request(
                &app,
                name,
                "requestNonce must be 8 to 64 visible ASCII characters.",
            )
        }
    };
    let ttl_ms = match p.one("ttl") {
        One::Absent | One::Repeated => DEFAULT_TTL_MS,
        One::Value(v) => match parse_ttl(v) {
            Some(t) => t,
            None => {
                return bad_request(&app, name, "ttl must be a positive number of milliseconds.")
            }
        },
    };
    let now_ms = crate::now_ms() as i64;
    let now = now_ms.div_euclid(1000);
    let partner_name = p
        .value("partnerName")
        .map(str::trim)
        .filter(|n| {
            !n.is_empty()
                && n.chars().count() <= MAX_PARTNER_NAME
                && !n.chars().any(char::is_control)
        })
        .unwrap_or(&client.name)
        .to_string();
    let web = WebRequest {
        request_nonce: nonce.clone(),
        partner_name,
        lang: Lang::parse(
            p.value("lang")
                .map(|l| l.split(['-', '_']).next().unwrap_or(l)),
        ),
        login_prefix: LoginPrefix::parse(p.value("loginPrefix")),
        login_suffix: LoginSuffix::parse(p.value("loginSuffix")),
        cta_prefix: CtaPrefix::parse(p.value("ctaPrefix")),
        cta_color: hex_colour(p.value("ctaColor")),
        cta_text_color: hex_colour(p.value("ctaTextColor")),
        btn_shape: BtnShape::parse(p.value("btnShape")),
        skip_option: SkipOption::parse(p.value("skipOption")),
        privacy_url: http_link(p.value("privacyUrl")),
        terms_url: http_link(p.value("termsUrl")),
        deadline_ms: now_ms + ttl_ms,
    };
    let ix = Interaction::new_web(client.client_id.clone(), web, now);
    let cookie = session::set_cookie(&app, &ix, now);
    if cookie.len() > MAX_COOKIE {
        return bad_request(&app, name, "The request is too long.");
    }
    // Last, so that a request refused above does not spend its nonce.
    let spent = nonce_key(&client.app_key, &nonce);
    let kept_until = now + ttl_ms / 1000 + 1 + NONCE_KEPT;
    match app.db(app.store.claim_once(&spent, kept_until)).await {
        Ok(true) => {}
        Ok(false) => {
            return bad_request(
                &app,
                name,
                "This requestNonce was already used. Start again.",
            )
        }
        Err(e) => return error::db(&app, e),
    }
    tracing::debug!(client_id = %client.client_id, "web dialog started");
    see_other(session::Stage::Phone.path(), Some(cookie))
}

/// The profile fields the dialog says it will share, with the name and number shown.
async fn fields(
    app: &AppState,
    ctx: &Ctx,
    w: &Words,
) -> Result<Vec<(&'static str, String)>, Response> {
    let Some(sub) = ctx.ix.sub else {
        return Err(error::no_session(app));
    };
    let user = match app.db(app.store.get_user(sub)).await {
        Ok(Some(u)) if u.status == UserStatus::Active => u,
        Ok(_) => return Err(blocked(app, ctx)),
        Err(e) => return Err(error::db(app, e)),
    };
    let full_name = [user.given_name.as_deref(), user.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = vec![(w.phone, phone::display(&user.phone_e164))];
    if !full_name.is_empty() {
        out.insert(0, (w.name, full_name));
    }
    if let Some(e) = &user.email {
        out.push((w.email, e.clone()));
    }
    if user.address.as_ref().is_some_and(|a| !a.is_empty()) {
        out.push((w.address, String::new()));
    }
    if user.picture.is_some() {
        out.push((w.picture, String::new()));
    }
    Ok(out)
}

fn blocked(app: &AppState, ctx: &Ctx) -> Response {
    error::page(
        app,
        StatusCode::FORBIDDEN,
        Some(&ctx.client.name),
        "This account cannot sign in",
        "The account of this phone number is blocked or was deleted.",
    )
}

/// The consent stage of a dialog: the dialog itself.
pub async fn show(app: &AppState, ctx: &Ctx, web: &WebRequest) -> Response {
    if crate::now_ms() as i64 > web.deadline_ms {
        return expired(app, &web.partner_name);
    }
    let w = words(web.lang);
    let fields = match fields(app, ctx, w).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let number = phone::display(ctx.ix.phone.as_deref().unwrap_or(""));
    let cta_style = match (&web.cta_color, &web.cta_text_color) {
        (None, None) => None,
        (bg, ink) => Some(
            [
                bg.as_ref()
                    .map(|c| format!("background:{c};border-color:{c}")),
                ink.as_ref().map(|c| format!("color:{c}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(";"),
        ),
    };
    html(
        StatusCode::OK,
        &DialogPage {
            chrome: ctx.chrome(app),
            lang: w.lang,
            csrf: &ctx.ix.csrf,
            title: (w.title)(web.login_prefix, web.login_suffix),
            will_receive: (w.will_receive)(&web.partner_name),
            fields,
            cta: (w.cta)(web.cta_prefix, &number),
            cta_style,
            reject: w.reject,
            skip: (w.skip)(web.skip_option),
            shape: match web.btn_shape {
                BtnShape::Round => "rounded",
                BtnShape::Rect => "rectangle",
            },
            agree: w.agree,
            privacy: web.privacy_url.as_deref().map(|u| (w.privacy, u)),
            terms: web.terms_url.as_deref().map(|u| (w.terms, u)),
            and: w.and,
        },
    )
}

/// The dialog's answer: `decision=continue|reject|skip`. Ends the dialog for good and queues
/// its one callback, both in one store transaction, before answering.
pub async fn submit(
    app: &AppState,
    ctx: &Ctx,
    web: &WebRequest,
    decision: Option<&str>,
) -> Response {
    let now_ms = crate::now_ms() as i64;
    if now_ms > web.deadline_ms {
        return expired(app, &web.partner_name);
    }
    let granted = match decision {
        Some("continue") => true,
        Some("reject") | Some("skip") => false,
        _ => return error::bad_form(app),
    };
    let Some(url) = ctx.client.callback_url.clone() else {
        return bad_request(
            app,
            Some(&ctx.client.name),
            "This app no longer has a callback URL.",
        );
    };
    let now = now_ms.div_euclid(1000);
    let expires_at = now + WEB_TOKEN_TTL;
    let (token, body) = if granted {
        let (Some(sub), Some(_)) = (ctx.ix.sub, ctx.ix.auth_time) else {
            return error::no_session(app);
        };
        match app.db(app.store.get_user(sub)).await {
            Ok(Some(u)) if u.status == UserStatus::Active => {}
            Ok(_) => return blocked(app, ctx),
            Err(e) => return error::db(app, e),
        }
        let secret = new_token(now_ms as u64);
        let record = AccessToken {
            hash: TokenHash::of(&secret),
            family_id: new_ordered_id(now_ms as u64),
            client_id: ctx.client.client_id.clone(),
            sub,
            scopes: ScopeSet::parse(WEB_SCOPES).unwrap_or_default(),
            issued_at: now,
            expires_at,
            revoked: false,
        };
        let body = Body::Granted {
            request_id: web.request_nonce.clone(),
            access_token: secret,
            endpoint: format!("{}/v1/default", app.settings.issuer),
        };
        (Some(record), body)
    } else {
        (None, Body::rejected(&web.request_nonce))
    };
    let delivery = callbacks::queued(
        &app.settings.secret,
        &ctx.client.client_id,
        &url,
        &body,
        now_ms,
        expires_at,
    );
    let key = ctx.ix.finish_key();
    let finished = app.store.finish_web_interaction(
        &key,
        ctx.ix.finish_kept_until(),
        token.as_ref(),
        &delivery,
    );
    match app.db(finished).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(client_id = %ctx.client.client_id, "finished web dialog replayed");
            return error::expired(app);
        }
        Err(e) => return error::db(app, e),
    }
    app.callbacks_queued();
    tracing::info!(
        client_id = %ctx.client.client_id,
        delivery = %delivery.id,
        granted,
        "web dialog answered; callback queued"
    );
    let w = words(web.lang);
    let mut r = html(
        StatusCode::OK,
        &DonePage {
            chrome: ctx.chrome(app),
            lang: w.lang,
            shared: granted,
            title: if granted {
                w.shared_title
            } else {
                w.declined_title
            },
            message: if granted {
                (w.shared)(&web.partner_name)
            } else {
                (w.declined)(&web.partner_name)
            },
        },
    );
    r.headers_mut()
        .insert(axum::http::header::SET_COOKIE, session::clear_cookie(app));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_fall_back_to_their_defaults() {
        assert_eq!(LoginPrefix::parse(Some("checkout")), LoginPrefix::Checkout);
        assert_eq!(
            LoginPrefix::parse(Some("CHECKOUT")),
            LoginPrefix::GetStarted
        );
        assert_eq!(LoginPrefix::parse(None), LoginPrefix::GetStarted);
        assert_eq!(BtnShape::parse(Some("rect")), BtnShape::Rect);
        assert_eq!(BtnShape::parse(Some("oval")), BtnShape::Round);
        assert_eq!(Lang::parse(Some("hi")), Lang::Hi);
        assert_eq!(Lang::parse(Some("sw")), Lang::En);
        for p in LoginPrefix::ALL {
            assert_eq!(LoginPrefix::parse(Some(p.as_str())), *p);
        }
    }

    #[test]
    fn colours_links_nonces_and_ttls() {
        assert_eq!(hex_colour(Some("#F75D34")).as_deref(), Some("#f75d34"));
        assert_eq!(hex_colour(Some("#fff")).as_deref(), Some("#fff"));
        for bad in ["f75d34", "#f75d3", "#ggg", "red", "#f75d34;x:y", ""] {
            assert_eq!(hex_colour(Some(bad)), None, "{bad}");
        }
        assert!(http_link(Some("https://shop.example/privacy")).is_some());
        assert!(http_link(Some("http://shop.example/terms")).is_some());
        for bad in [
            "javascript:alert(1)",
            "ftp://x.example/",
            "https://a b",
            "//x.example",
        ] {
            assert_eq!(http_link(Some(bad)), None, "{bad}");
        }
        assert!(nonce_ok("abcd1234") && nonce_ok(&"x".repeat(64)));
        assert!(!nonce_ok("abc1234") && !nonce_ok(&"x".repeat(65)));
        assert!(!nonce_ok("abcd 1234") && !nonce_ok("abcd1234é"));
        assert_eq!(parse_ttl("60000"), Some(60_000));
        assert_eq!(parse_ttl("99999999999999999999"), Some(DEFAULT_TTL_MS));
        for bad in ["0", "000", "-5", "1.5", "", "10s"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonce_keys_are_per_app_key() {
        assert_eq!(nonce_key("k1", "n1"), nonce_key("k1", "n1"));
        assert_ne!(nonce_key("k1", "n1"), nonce_key("k2", "n1"));
        assert_ne!(nonce_key("k1", "n1x"), nonce_key("k1n", "1x"));
    }

    #[test]
    fn titles_and_buttons_in_each_language() {
        assert_eq!(
            (EN.title)(LoginPrefix::Checkout, LoginSuffix::VerifyMobile),
            "Check out to verify your mobile number"
        );
        assert_eq!(
            (EN.cta)(CtaPrefix::ContinueWith, "+91 98765 43210"),
            "Continue with +91 98765 43210"
        );
        assert_eq!(
            (HI.title)(LoginPrefix::GetStarted, LoginSuffix::Login),
            "लॉग इन के लिए शुरू करें"
        );
        assert_eq!((HI.skip)(SkipOption::Later), "बाद में");
    }
}
