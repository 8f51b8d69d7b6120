//! An app's consent-page branding: [`NewBranding`].

use super::*;
use crate::model::{Branding, ButtonShape, ButtonText, Heading};
use serde::Deserialize;

/// An app's consent-page branding as an operator sends it (admin API, CLI). Absent fields
/// take their defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBranding {
    #[serde(default)]
    pub heading: Option<String>,
    #[serde(default)]
    pub button_text: Option<String>,
    #[serde(default)]
    pub button_color: Option<String>,
    #[serde(default)]
    pub button_shape: Option<String>,
    #[serde(default)]
    pub privacy_url: Option<String>,
    #[serde(default)]
    pub terms_url: Option<String>,
}

impl NewBranding {
    /// Checks every field: known heading, button text and shape; colour `#RRGGBB` (stored in
    /// lower case); links https URLs.
    pub fn validate(self) -> Result<Branding, FieldError> {
        fn pick<T: Copy>(
            field: &str,
            v: Option<String>,
            all: &[T],
            name: impl Fn(T) -> &'static str,
        ) -> Result<Option<T>, FieldError> {
            let Some(v) = v else { return Ok(None) };
            all.iter()
                .copied()
                .find(|t| name(*t) == v)
                .map(Some)
                .ok_or_else(|| {
                    let names: Vec<_> = all.iter().map(|t| name(*t)).collect();
                    FieldError::new(field, format!("must be one of {}", names.join(", ")))
                })
        }
        let heading = pick("heading", self.heading, &Heading::ALL, Heading::as_str)?;
        let button_text = pick(
            "button_text",
            self.button_text,
            &ButtonText::ALL,
            ButtonText::as_str,
        )?;
        let button_shape = pick(
            "button_shape",
            self.button_shape,
            &[ButtonShape::Rounded, ButtonShape::Rectangle],
            ButtonShape::as_str,
        )?;
        let button_color = match self.button_color {
            None => None,
            Some(c) => {
                let ok = c.len() == 7
                    && c.starts_with('#')
                    && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(FieldError::new(
                        "button_color",
                        "must be a hex colour like #1A73E8",
                    ));
                }
                Some(c.to_ascii_lowercase())
            }
        };
        let url = |field: &str, v: Option<String>| -> Result<Option<String>, FieldError> {
            match v {
                None => Ok(None),
                Some(u) => check_https_url(&u)
                    .map(|()| Some(u))
                    .map_err(|m| FieldError::new(field, m)),
            }
        };
        Ok(Branding {
            heading: heading.unwrap_or_default(),
            button_text: button_text.unwrap_or_default(),
            button_color,
            button_shape: button_shape.unwrap_or_default(),
            privacy_url: url("privacy_url", self.privacy_url)?,
            terms_url: url("terms_url", self.terms_url)?,
        })
    }
}
