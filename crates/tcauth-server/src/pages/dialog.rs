//! What a Mobile Websites dialog is asked for (CONTRACT.md §9): the deep link's options, as
//! Truecaller documents their values, and [`WebRequest`], the request and options a dialog's
//! interaction carries in its sealed cookie ([`super::session`]). Below both `session` and
//! `web` (which checks the deep link and renders the dialog), so neither imports the other's
//! way round.

use serde::{Deserialize, Serialize};

/// What a dialog's access token may read: Truecaller's profile share (every field the dialog
/// lists), whatever scopes the client registered for its OAuth sign-ins.
pub const WEB_SCOPES: &str = "profile phone email address";

macro_rules! options {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? } default $default:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[serde(rename = $wire)]
                $variant,
            )+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The deep link's value; anything else (or nothing) is the default.
            pub fn parse(v: Option<&str>) -> $name {
                match v {
                    $(Some($wire) => $name::$variant,)+
                    _ => $name::$default,
                }
            }
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }
    };
}

options!(
    /// `loginPrefix`: the first words of the title.
    LoginPrefix {
        GetStarted = "getstarted",
        Continue = "continue",
        PlaceOrder = "placeorder",
        CompleteOrder = "completeorder",
        Checkout = "checkout",
    } default GetStarted
);
options!(
    /// `loginSuffix`: what the title says the number is for.
    LoginSuffix {
        Login = "login",
        Signup = "signup",
        LoginSignup = "loginsignup",
        Register = "register",
        Signin = "signin",
        VerifyMobile = "verifymobile",
    } default Login
);
options!(
    /// `ctaPrefix`: the words before the number on the button.
    CtaPrefix {
        Use = "use",
        ContinueWith = "continuewith",
        ProceedWith = "proceedwith",
    } default Use
);
options!(
    /// `btnShape`.
    BtnShape {
        Round = "round",
        Rect = "rect",
    } default Round
);
options!(
    /// `skipOption`: the footer that declines.
    SkipOption {
        UseAnotherNum = "useanothernum",
        UseAnotherMethod = "useanothermethod",
        EnterDetailsManually = "enterdetailsmanually",
        Later = "later",
    } default UseAnotherNum
);
options!(
    /// `lang`: the languages the dialog speaks; any other is English.
    Lang {
        En = "en",
        Hi = "hi",
    } default En
);

/// A dialog's request and options, carried in the sealed interaction cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebRequest {
    pub request_nonce: String,
    /// Shown as the app's name (`partnerName`, or the client's name).
    pub partner_name: String,
    pub lang: Lang,
    pub login_prefix: LoginPrefix,
    pub login_suffix: LoginSuffix,
    pub cta_prefix: CtaPrefix,
    /// `#rrggbb` or `#rgb`.
    pub cta_color: Option<String>,
    pub cta_text_color: Option<String>,
    pub btn_shape: BtnShape,
    pub skip_option: SkipOption,
    pub privacy_url: Option<String>,
    pub terms_url: Option<String>,
    /// Unix milliseconds after which the dialog answers "expired" (`ttl` from the start).
    pub deadline_ms: i64,
}
