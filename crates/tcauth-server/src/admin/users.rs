//! `/admin/v1/users`.

use super::{created, field_error, json_body, no_content, not_found, ok, respond, AdminError};
use crate::error::ApiError;
use crate::state::App;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use tcauth_core::model::{User, UserStatus};
use tcauth_core::phone;
use tcauth_core::validate::{new_sub, FieldError, NewUser};
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

/// Users per page of `GET /admin/v1/users` when `limit` is not given.
pub const LIST_DEFAULT: u32 = 100;
/// The largest `limit` of `GET /admin/v1/users`.
pub const LIST_MAX: u32 = 1000;

/// What `GET /admin/v1/users?…` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum UsersQuery {
    /// `?phone_number=+919876543210`: the one user with that number, in E.164.
    Phone(String),
    /// `?limit=N&after=SUB` (both optional): a page of users in ascending sub order.
    Page { after: Option<i64>, limit: u32 },
}

/// Reads the query of `GET /admin/v1/users`. A `+` in the query is a plus sign, not a space
/// (`?phone_number=+919876543210` as typed in a shell); `%2B` works too. The number is
/// normalised as `POST /admin/v1/users` does. Faults name the parameter.
pub fn users_query(query: Option<&str>) -> Result<UsersQuery, FieldError> {
    let raw = query.unwrap_or("").replace('+', "%2B");
    let form = crate::form::parse(raw.as_bytes()).map_err(|m| FieldError::new("query", m))?;
    let (mut phone_number, mut limit, mut after) = (None, None, None);
    for (k, v) in form.pairs() {
        match k.as_str() {
            "phone_number" => phone_number = Some(v.as_str()),
            "limit" => limit = Some(v.as_str()),
            "after" => after = Some(v.as_str()),
            other => {
                return Err(FieldError::new(
                    crate::form::printable(other, 64),
                    "unknown parameter; phone_number, or limit and after, are accepted",
                ))
            }
        }
    }
    if let Some(p) = phone_number {
        if let Some(other) = [("limit", limit), ("after", after)]
            .iter()
            .find_map(|(name, v)| v.map(|_| *name))
        {
            return Err(FieldError::new(other, "not accepted with phone_number"));
        }
        let p =
            phone::parse(p, None).map_err(|e| FieldError::new("phone_number", e.to_string()))?;
        return Ok(UsersQuery::Phone(p.e164));
    }
    let limit = match limit {
        None => LIST_DEFAULT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=LIST_MAX).contains(n))
            .ok_or_else(|| FieldError::new("limit", format!("must be an integer 1–{LIST_MAX}")))?,
    };
    let after = match after {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            FieldError::new(
                "after",
                "must be the next cursor of an earlier page (a sub)",
            )
        })?),
    };
    Ok(UsersQuery::Page { after, limit })
}

/// `GET /admin/v1/users?phone_number=…`: 200 with the user (as `GET /admin/v1/users/{sub}`),
/// 404 when no user has that number. `GET /admin/v1/users[?limit=N][&after=CURSOR]`: 200
/// `{"users":[…],"next":"<cursor>"|null}`, users in ascending sub order; `next` is the
/// `after` of the following page, `null` on the last.
pub async fn find(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    respond(
        async {
            match users_query(query.as_deref()).map_err(field_error)? {
                UsersQuery::Phone(e164) => {
                    let user = app
                        .db(app.store.get_user_by_phone(&e164))
                        .await?
                        .ok_or_else(|| not_found("No user has this phone_number"))?;
                    Ok(ok(to_json(&user)))
                }
                UsersQuery::Page { after, limit } => {
                    // One more than asked: whether a next page exists, without an empty last one.
                    let mut page = app.db(app.store.list_users(after, limit + 1)).await?;
                    let more = page.len() > limit as usize;
                    page.truncate(limit as usize);
                    let next = match (more, page.last()) {
                        (true, Some(last)) => json!(last.sub.to_string()),
                        _ => Value::Null,
                    };
                    Ok(ok(json!({
                        "users": page.iter().map(to_json).collect::<Vec<_>>(),
                        "next": next,
                    })))
                }
            }
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
