//! A client as an operator describes it: [`NewClient`].

use super::*;
use crate::model::{Client, GrantType, RateLimit, UnixTime};
use crate::scope::ScopeSet;
use serde::Deserialize;

/// A client as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub branding: Option<NewBranding>,
}

impl NewClient {
    /// Checks every field and builds the client record with the given id and time.
    pub fn validate(self, client_id: String, now: UnixTime) -> Result<Client, FieldError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                "name",
                format!("must be 1–{MAX_NAME} printable characters"),
            ));
        }
        if self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(FieldError::new(
                "redirect_uris",
                format!("must list 1–{MAX_REDIRECT_URIS} URIs"),
            ));
        }
        for (i, u) in self.redirect_uris.iter().enumerate() {
            if let Err(m) = check_redirect_uri(u) {
                return Err(FieldError::new(format!("redirect_uris[{i}]"), m));
            }
        }
        let scopes = ScopeSet::from_names(&self.scopes)
            .map_err(|e| FieldError::new("scopes", e.to_string()))?;
        if scopes.is_empty() {
            return Err(FieldError::new("scopes", "must list at least one scope"));
        }
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let gt = GrantType::parse(g).ok_or_else(|| {
                FieldError::new(
                    "grant_types",
                    format!(
                        "unknown grant type {:?}; use authorization_code and/or refresh_token",
                        g.chars().take(64).collect::<String>()
                    ),
                )
            })?;
            if !grant_types.contains(&gt) {
                grant_types.push(gt);
            }
        }
        if grant_types.is_empty() {
            return Err(FieldError::new(
                "grant_types",
                "must list at least one grant type",
            ));
        }
        if let Some(rl) = self.rate_limit {
            if rl.per_second == 0 || rl.per_second > MAX_RATE {
                return Err(FieldError::new(
                    "rate_limit.per_second",
                    format!("must be 1–{MAX_RATE}"),
                ));
            }
            if rl.burst == 0 || rl.burst > MAX_RATE {
                return Err(FieldError::new(
                    "rate_limit.burst",
                    format!("must be 1–{MAX_RATE}"),
                ));
            }
        }
        let branding = match self.branding {
            Some(b) => Some(
                b.validate()
                    .map_err(|e| FieldError::new(format!("branding.{}", e.field), e.message))?,
            ),
            None => None,
        };
        Ok(Client {
            client_id,
            name,
            redirect_uris: self.redirect_uris,
            scopes,
            grant_types,
            rate_limit: self.rate_limit,
            created_at: now,
            branding,
        })
    }
}
