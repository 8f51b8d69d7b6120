//! A user as an operator describes them: [`NewUser`].

use super::*;
use crate::model::{Address, UnixTime, User, UserStatus};
use crate::phone;
use serde::Deserialize;

/// The gender values of CONTRACT.md §7 (§9 shows them as `Female`|`Male`|`NotSet`).
pub const GENDERS: [&str; 3] = ["female", "male", "other"];

/// A user as an operator describes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub phone_number: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
}

impl NewUser {
    /// Checks every field and builds the user record with the given sub and time.
    /// Numbers added by an operator count as verified.
    pub fn validate(self, sub: i64, now: UnixTime) -> Result<User, FieldError> {
        let p = phone::parse(&self.phone_number, None)
            .map_err(|e| FieldError::new("phone_number", e.to_string()))?;
        let given_name = opt_text("given_name", self.given_name, MAX_NAME)?;
        let family_name = opt_text("family_name", self.family_name, MAX_NAME)?;
        let email = opt_text("email", self.email, MAX_TEXT)?;
        if let Some(e) = &email {
            let ok = e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            }) && e.matches('@').count() == 1;
            if !ok {
                return Err(FieldError::new(
                    "email",
                    "must be an address like name@example.com",
                ));
            }
        }
        let picture = opt_text("picture", self.picture, MAX_URI)?;
        if let Some(pic) = &picture {
            check_https_url(pic).map_err(|m| FieldError::new("picture", m))?;
        }
        // Any case is understood; the contract's lower-case value is stored.
        let gender = match opt_text("gender", self.gender, 32) {
            Ok(Some(g)) => {
                let g = g.to_ascii_lowercase();
                if !GENDERS.contains(&g.as_str()) {
                    return Err(FieldError::new("gender", "must be female, male or other"));
                }
                Some(g)
            }
            Ok(None) => None,
            Err(_) => return Err(FieldError::new("gender", "must be female, male or other")),
        };
        let address = match self.address {
            None => None,
            Some(a) => {
                let a = Address {
                    street_address: opt_text("address.street_address", a.street_address, MAX_TEXT)?,
                    locality: opt_text("address.locality", a.locality, MAX_TEXT)?,
                    region: opt_text("address.region", a.region, MAX_TEXT)?,
                    postal_code: opt_text("address.postal_code", a.postal_code, 32)?,
                    country: opt_text("address.country", a.country, MAX_TEXT)?,
                };
                (!a.is_empty()).then_some(a)
            }
        };
        Ok(User {
            sub,
            phone_e164: p.e164,
            phone_country: p.country,
            phone_verified: true,
            given_name,
            family_name,
            email,
            picture,
            gender,
            address,
            status: UserStatus::Active,
            created_at: now,
        })
    }
}
