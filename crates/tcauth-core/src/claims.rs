//! Which claims a set of scopes releases (CONTRACT.md §2), and the `id_token` claims.

use crate::model::User;
use crate::phone::e164_digits;
use crate::scope::{Scope, ScopeSet};
use serde_json::{Map, Value};

/// The userinfo response for `user` under `scopes`. Claims the profile lacks are omitted,
/// never `null`.
pub fn userinfo(user: &User, scopes: ScopeSet) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), Value::String(user.sub.to_string()));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    };
    if scopes.contains(Scope::Profile) {
        put("given_name", &user.given_name);
        put("family_name", &user.family_name);
        put("picture", &user.picture);
        put("gender", &user.gender);
    }
    if scopes.contains(Scope::Email) {
        put("email", &user.email);
    }
    if scopes.contains(Scope::Phone) {
        m.insert(
            "phone_number".into(),
            Value::String(e164_digits(&user.phone_e164).to_string()),
        );
        m.insert(
            "phone_number_country_code".into(),
            Value::String(user.phone_country.clone()),
        );
        m.insert(
            "phone_number_verified".into(),
            Value::Bool(user.phone_verified),
        );
    }
    if scopes.contains(Scope::Address) {
        if let Some(a) = user.address.as_ref().filter(|a| !a.is_empty()) {
            if let Ok(v) = serde_json::to_value(a) {
                m.insert("address".into(), v);
            }
        }
    }
    m
}

/// Every claim name userinfo can return, for discovery's `claims_supported`.
pub const SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "given_name",
    "family_name",
    "picture",
    "gender",
    "email",
    "phone_number",
    "phone_number_country_code",
    "phone_number_verified",
    "address",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, UserStatus};
    use serde_json::json;

    fn user() -> User {
        User {
            sub: 42,
            phone_e164: "+919876543210".into(),
            phone_country: "IN".into(),
            phone_verified: true,
            given_name: Some("Asha".into()),
            family_name: None,
            email: Some("asha@example.com".into()),
            picture: None,
            gender: None,
            address: Some(Address {
                locality: Some("Pune".into()),
                postal_code: Some("411001".into()),
                ..Address::default()
            }),
            status: UserStatus::Active,
            created_at: 0,
        }
    }

    #[test]
    fn claims_per_scope() {
        let all = ScopeSet::all();
        assert_eq!(
            Value::Object(userinfo(&user(), all)),
            json!({"sub":"42","given_name":"Asha","email":"asha@example.com",
                "phone_number":"919876543210","phone_number_country_code":"IN",
                "phone_number_verified":true,
                "address":{"locality":"Pune","postal_code":"411001"}})
        );
        assert_eq!(
            Value::Object(userinfo(&user(), ScopeSet::parse("openid").unwrap())),
            json!({"sub":"42"})
        );
    }
}
