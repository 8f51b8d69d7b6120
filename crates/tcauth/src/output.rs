//! What commands print: JSON views of the records (`--json`) and their text forms.

use serde::Serialize;
use tcauth_core::model::{Address, Branding, Client, RateLimit, User};

/// Prints one JSON value on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A client as `--json` shows it: the admin API's view, members and all (optional members
/// absent when unset). `callback_secret` only in the output of the command that set
/// `callback_url` ([`ClientView::with_secret`]).
#[derive(Debug, Serialize)]
pub struct ClientView<'a> {
    pub client_id: &'a str,
    pub app_key: &'a str,
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub scopes: Vec<&'static str>,
    pub grant_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    pub created_at: i64,
    /// `test` or `live` (CONTRACT.md §11).
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branding: Option<&'a Branding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<String>,
}

impl ClientView<'_> {
    pub fn with_secret(mut self, callback_secret: Option<String>) -> Self {
        self.callback_secret = callback_secret;
        self
    }
}

impl<'a> From<&'a Client> for ClientView<'a> {
    fn from(c: &'a Client) -> Self {
        ClientView {
            client_id: &c.client_id,
            app_key: &c.app_key,
            name: &c.name,
            redirect_uris: &c.redirect_uris,
            scopes: c.scopes.names(),
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
            rate_limit: c.rate_limit,
            created_at: c.created_at,
            mode: c.mode.as_str(),
            branding: c.branding.as_ref(),
            callback_url: c.callback_url.as_deref(),
            package_name: c.package_name.as_deref(),
            callback_secret: None,
        }
    }
}

/// The text form of one client.
pub fn client_text(c: &Client) -> String {
    let rate = match c.rate_limit {
        Some(r) => format!("{}/s, burst {}", r.per_second, r.burst),
        None => "server default".into(),
    };
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let mut text = format!(
        "client_id:     {}\napp_key:       {}\nname:          {}\nredirect_uris: {}\n\
         scopes:        {}\ngrant_types:   {}\nrate_limit:    {}\ncreated_at:    {}\n\
         mode:          {}\n",
        c.client_id,
        c.app_key,
        c.name,
        c.redirect_uris.join(" "),
        c.scopes.names().join(" "),
        grants.join(" "),
        rate,
        timestamp(c.created_at),
        c.mode.as_str(),
    );
    if let Some(b) = &c.branding {
        text.push_str(&format!(
            "branding:      \"{} {}\", button \"{}\" {} {}",
            b.heading.words(),
            c.name,
            b.button_text.words(),
            b.button_shape.as_str(),
            b.button_color.as_deref().unwrap_or("(default colour)"),
        ));
        for (what, url) in [("privacy", &b.privacy_url), ("terms", &b.terms_url)] {
            if let Some(u) = url {
                text.push_str(&format!(", {what} {u}"));
            }
        }
        text.push('\n');
    }
    for (what, v) in [
        ("callback_url:  ", &c.callback_url),
        ("package_name:  ", &c.package_name),
    ] {
        if let Some(v) = v {
            text.push_str(&format!("{what}{v}\n"));
        }
    }
    text
}

/// A user as `--json` shows it. `sub` is a decimal string, as in tokens; absent fields are
/// left out.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    pub sub: String,
    pub phone_number: &'a str,
    pub phone_number_country_code: &'a str,
    pub phone_number_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a Address>,
    pub status: &'static str,
    pub created_at: i64,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        UserView {
            sub: u.sub.to_string(),
            phone_number: &u.phone_e164,
            phone_number_country_code: &u.phone_country,
            phone_number_verified: u.phone_verified,
            given_name: u.given_name.as_deref(),
            family_name: u.family_name.as_deref(),
            email: u.email.as_deref(),
            picture: u.picture.as_deref(),
            gender: u.gender.as_deref(),
            address: u.address.as_ref(),
            status: u.status.as_str(),
            created_at: u.created_at,
        }
    }
}

/// The text form of one user: one `key: value` line per known field.
pub fn user_text(u: &User) -> String {
    let mut out = format!(
        "sub:          {}\nphone_number: {} ({}{})\nstatus:       {}\n",
        u.sub,
        u.phone_e164,
        u.phone_country,
        if u.phone_verified { ", verified" } else { "" },
        u.status.as_str(),
    );
    let a = u.address.clone().unwrap_or_default();
    for (k, v) in [
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("email", &u.email),
        ("picture", &u.picture),
        ("gender", &u.gender),
        ("street_address", &a.street_address),
        ("locality", &a.locality),
        ("region", &a.region),
        ("postal_code", &a.postal_code),
        ("country", &a.country),
    ] {
        if let Some(v) = v {
            out.push_str(&format!("{:<14}{v}\n", format!("{k}:")));
        }
    }
    out.push_str(&format!("created_at:   {}\n", timestamp(u.created_at)));
    out
}

/// Unix seconds as RFC 3339 UTC, e.g. `2024-05-01T12:00:00Z`.
pub fn timestamp(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(1_714_564_800), "2024-05-01T12:00:00Z");
    }
}
