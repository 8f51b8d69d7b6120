//! `/admin/v1/users`.

use super::{created, field_error, json_body, no_content, not_found, ok, respond, AdminError};
use crate::error::ApiError;
use crate::state::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use tcauth_core::model::{User, UserStatus};
use tcauth_core::validate::{new_sub, NewUser};
use tcauth_store::StoreError;

/// The admin API's view of a user (and the CLI's `--json`).
pub fn to_json(u: &User) -> Value {
    let mut v = json!({
        "sub": u.sub.to_string(),
        "phone_number": u.phone_e164,
        "phone_number_country_code": u.phone_country,
        "phone_number_verified": u.phone_verified,
        "status": u.status.as_str(),
        "created_at": u.created_at,
    });
    for (k, f) in [
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("email", &u.email),
        ("picture", &u.picture),
        ("gender", &u.gender),
    ] {
        if let Some(f) = f {
            v[k] = json!(f);
        }
    }
    if let Some(a) = &u.address {
        v["address"] = json!(a);
    }
    v
}

fn parse_sub(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| not_found("No such user"))
}

pub async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    respond(
        async {
            let new: NewUser = json_body(&headers, body).await?;
            let user = new.validate(new_sub(), crate::now()).map_err(field_error)?;
            match app.db(app.store.create_user(&user)).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    return Err(ApiError::oauth(
                        StatusCode::CONFLICT,
                        "conflict",
                        &format!("phone_number {} is already registered", user.phone_e164),
                    )
                    .into())
                }
                Err(e) => return Err(e.into()),
            }
            tracing::info!(sub = user.sub, "user created");
            Ok(created(to_json(&user)))
        }
        .await,
    )
}

async fn load(app: &App, sub: &str) -> Result<User, AdminError> {
    let sub = parse_sub(sub)?;
    app.db(app.store.get_user(sub))
        .await?
        .ok_or_else(|| not_found("No such user").into())
}

pub async fn show(State(app): State<App>, Path(sub): Path<String>) -> Response {
    respond(async { Ok(ok(to_json(&load(&app, &sub).await?))) }.await)
}

pub async fn delete(State(app): State<App>, Path(sub): Path<String>) -> Response {
    respond(
        async {
            let sub = parse_sub(&sub)?;
            if !app.db(app.store.delete_user(sub)).await? {
                return Err(not_found("No such user").into());
            }
            tracing::info!(sub, "user deleted");
            Ok(no_content())
        }
        .await,
    )
}

async fn set_status(app: App, sub: String, status: UserStatus) -> Response {
    respond(
        async {
            let s = parse_sub(&sub)?;
            if !app.db(app.store.set_user_status(s, status)).await? {
                return Err(not_found("No such user").into());
            }
            tracing::info!(sub = s, status = status.as_str(), "user status changed");
            Ok(ok(to_json(&load(&app, &sub).await?)))
        }
        .await,
    )
}

pub async fn block(State(app): State<App>, Path(sub): Path<String>) -> Response {
    set_status(app, sub, UserStatus::Blocked).await
}

pub async fn unblock(State(app): State<App>, Path(sub): Path<String>) -> Response {
    set_status(app, sub, UserStatus::Active).await
}
