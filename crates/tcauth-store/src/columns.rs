//! The column lists of each table, in the order the row decoders read them. Both backends have
//! the same columns, so they share these. Only the lists are shared: the placeholders of the
//! statements around them differ (`?1` in SQLite, `$1` in PostgreSQL), so each backend writes
//! its own `VALUES (…)`, `WHERE` and casts.

macro_rules! client_cols {
    () => {
        "client_id, name, redirect_uris, scopes, grant_types, rate_per_second, rate_burst, \
         created_at, branding, app_key, callback_url, callback_salt, package_name, updated_at_ms, mode"
    };
}
macro_rules! user_cols {
    () => {
        "sub, phone_e164, phone_country, phone_verified, given_name, family_name, email, \
         picture, gender, address, status, created_at"
    };
}
macro_rules! code_cols {
    () => {
        "hash, family_id, client_id, sub, scopes, code_challenge, redirect_uri, nonce, \
         auth_time, expires_at, consumed_at"
    };
}
macro_rules! access_cols {
    () => {
        "hash, family_id, client_id, sub, scopes, issued_at, expires_at, revoked"
    };
}
macro_rules! refresh_cols {
    () => {
        "hash, family_id, client_id, sub, scopes, auth_time, issued_at, expires_at, used_at, \
         revoked"
    };
}
macro_rules! key_cols {
    () => {
        "kid, private_key_sealed, public_n, public_e, created_at, current"
    };
}
macro_rules! otp_cols {
    () => {
        "id, purpose, phone_e164, phone_country, binding, code_mac, attempts_left, created_at, \
         expires_at, consumed_at"
    };
}
macro_rules! vt_cols {
    () => {
        "hash, client_id, phone_e164, phone_country, created_at, expires_at, used_at"
    };
}
macro_rules! delivery_cols {
    () => {
        "id, client_id, request_id, url, body_sealed, status, attempts, last_error, \
         next_attempt_at_ms, expires_at, created_at, delivered_at"
    };
}
macro_rules! test_number_cols {
    () => {
        "client_id, phone_e164, otp, created_at"
    };
}
pub(crate) use {
    access_cols, client_cols, code_cols, delivery_cols, key_cols, otp_cols, refresh_cols,
    test_number_cols, user_cols, vt_cols,
};
