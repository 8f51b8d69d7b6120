//! `/admin/v1/clients`.

use super::{
    created, field_error, json_body, no_content, not_found, ok, parse_json, respond, AdminError,
    MAX_ADMIN_BODY,
};
use crate::state::App;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use tcauth_core::model::{Branding, CallbackDelivery, Client, DeliveryStatus, TestNumber};
use tcauth_core::validate::{
    new_client_id, ClientPatch, FieldError, NewBranding, NewClient, NewTestNumber,
};

/// Deliveries `GET …/deliveries` lists when no `limit` is given, and the most it lists.
pub const DELIVERIES_DEFAULT: usize = 50;
pub const DELIVERIES_MAX: usize = 100;

/// The admin API's view of a client. Optional members (`rate_limit`, `branding`,
/// `callback_url`, `package_name`) are absent when unset, never `null`; the callback salt and
/// secret are never in it.
pub fn to_json(c: &Client) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "app_key": c.app_key,
        "name": c.name,
        "redirect_uris": c.redirect_uris,
        "scopes": c.scopes.names(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "created_at": c.created_at,
        "mode": c.mode.as_str(),
    });
    if let Some(rl) = c.rate_limit {
        v["rate_limit"] = json!({"per_second": rl.per_second, "burst": rl.burst});
    }
    if let Some(b) = &c.branding {
        v["branding"] = serde_json::to_value(b).unwrap_or(Value::Null);
    }
    if let Some(u) = &c.callback_url {
        v["callback_url"] = json!(u);
    }
    if let Some(p) = &c.package_name {
        v["package_name"] = json!(p);
    }
    v
}

/// [`to_json`], with `callback_secret` when the answer is the one that set `callback_url`
/// (the only time the secret is shown).
fn view(app: &App, c: &Client, callback_set: bool) -> Value {
    let mut v = to_json(c);
    if let (true, Some(salt)) = (callback_set, &c.callback_salt) {
        v["callback_secret"] = json!(crate::callbacks::secret(&app.settings.secret, salt));
    }
    v
}

pub async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    respond(
        async {
            let new: NewClient = json_body(&headers, body).await?;
            let mut client = new
                .validate(new_client_id(), crate::now())
                .map_err(field_error)?;
            // Past every earlier change, so the nodes' poll sees a create after a delete.
            client.updated_at_ms = client.updated_at_ms.max(crate::now_ms() as i64);
            app.db(app.store.create_client(&client)).await?;
            app.limiter
                .set_override(&client.client_id, client.rate_limit);
            tracing::info!(client_id = %client.client_id, "client created");
            Ok(created(view(&app, &client, client.callback_url.is_some())))
        }
        .await,
    )
}

pub async fn list(State(app): State<App>) -> Response {
    respond(
        async {
            let all = app.db(app.store.list_clients()).await?;
            Ok(ok(
                json!({"clients": all.iter().map(to_json).collect::<Vec<_>>()}),
            ))
        }
        .await,
    )
}

pub async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let c = app
                .db(app.store.get_client(&id))
                .await?
                .ok_or_else(|| not_found("No such client"))?;
            Ok(ok(to_json(&c)))
        }
        .await,
    )
}

/// The members of a patch that cannot be `null` (only `rate_limit`, `callback_url` and
/// `package_name` can be cleared).
const REQUIRED: [&str; 4] = ["name", "redirect_uris", "scopes", "grant_types"];

/// Reads a `PATCH` body: a [`ClientPatch`] (unknown members and wrong types refused, naming
/// the member), where a member that every client has may not be `null`.
pub fn parse_patch(bytes: &[u8]) -> Result<ClientPatch, FieldError> {
    let patch: ClientPatch = parse_json(bytes)?;
    // It is JSON; serde would also take an array for the struct.
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(FieldError::new("body", "must be a JSON object"));
    };
    if let Some(f) = REQUIRED.iter().find(|f| m.get(**f) == Some(&Value::Null)) {
        return Err(FieldError::new(
            *f,
            "cannot be null (only rate_limit, callback_url and package_name can be cleared)",
        ));
    }
    Ok(patch)
}

fn is_empty(p: &ClientPatch) -> bool {
    p.name.is_none()
        && p.redirect_uris.is_none()
        && p.scopes.is_none()
        && p.grant_types.is_none()
        && p.rate_limit.is_none()
        && p.callback_url.is_none()
        && p.package_name.is_none()
}

/// `PATCH /admin/v1/clients/{client_id}`: changes the members given (each checked by the rule
/// it has at creation; `null` clears `rate_limit`, `callback_url`, `package_name`); 200 with
/// the client, and `callback_secret` when `callback_url` was set. `{}` changes nothing and
/// answers the client. Other nodes apply the change within 1 s (`clients_poll_interval`).
pub async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let bytes = crate::oauth::read_body(&headers, body, MAX_ADMIN_BODY).await?;
            let patch = parse_patch(&bytes).map_err(field_error)?;
            let mut client = app
                .db(app.store.get_client(&id))
                .await?
                .ok_or_else(|| not_found("No such client"))?;
            if is_empty(&patch) {
                return Ok(ok(to_json(&client)));
            }
            let callback_set = patch
                .apply(&mut client, crate::now_ms() as i64)
                .map_err(field_error)?;
            if !app.db(app.store.update_client(&client)).await? {
                return Err(not_found("No such client").into());
            }
            app.limiter
                .set_override(&client.client_id, client.rate_limit);
            tracing::info!(client_id = %client.client_id, callback_set, "client changed");
            Ok(ok(view(&app, &client, callback_set)))
        }
        .await,
    )
}

/// One delivery as `GET …/deliveries` (and `tcauth client deliveries --json`) shows it:
/// never the URL, the body or the token. Times are Unix seconds; `next_attempt_at` (rounded
/// up) is `null` unless the delivery is pending.
pub fn delivery_json(d: &CallbackDelivery) -> Value {
    let ms = d.next_attempt_at_ms;
    let next_attempt_at = (d.status == DeliveryStatus::Pending)
        .then(|| ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0));
    json!({
        "id": d.id,
        "request_id": d.request_id,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "last_error": d.last_error,
        "next_attempt_at": next_attempt_at,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
    })
}

/// The `limit` of `?limit=1..100` (the only parameter), default [`DELIVERIES_DEFAULT`].
fn deliveries_limit(query: Option<&str>) -> Result<usize, FieldError> {
    let form = crate::form::parse(query.unwrap_or("").as_bytes())
        .map_err(|m| FieldError::new("query", m))?;
    let mut limit = DELIVERIES_DEFAULT;
    for (k, v) in form.pairs() {
        if k != "limit" {
            return Err(FieldError::new(
                crate::form::printable(k, 64),
                "unknown parameter; only limit is accepted",
            ));
        }
        limit = v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=DELIVERIES_MAX).contains(n))
            .ok_or_else(|| {
                FieldError::new("limit", format!("must be an integer 1–{DELIVERIES_MAX}"))
            })?;
    }
    Ok(limit)
}

/// `GET /admin/v1/clients/{client_id}/deliveries[?limit=N]`: the client's recent Mobile
/// Websites callbacks, newest first (CONTRACT.md §9).
pub async fn deliveries(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        async {
            let limit = deliveries_limit(query.as_deref()).map_err(field_error)?;
            if app.db(app.store.get_client(&id)).await?.is_none() {
                return Err(not_found("No such client").into());
            }
            let all = app.db(app.store.list_deliveries(&id, limit)).await?;
            Ok(ok(
                json!({"deliveries": all.iter().map(delivery_json).collect::<Vec<_>>()}),
            ))
        }
        .await,
    )
}

/// `PUT /admin/v1/clients/{client_id}/branding`: replaces the consent page's branding (absent
/// fields take their defaults); 200 with the client.
pub async fn set_branding(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let new: NewBranding = json_body(&headers, body).await?;
            let branding = new.validate().map_err(field_error)?;
            store_branding(&app, &id, Some(&branding)).await
        }
        .await,
    )
}

/// `DELETE /admin/v1/clients/{client_id}/branding`: back to the defaults; 200 with the client.
pub async fn clear_branding(State(app): State<App>, Path(id): Path<String>) -> Response {
    respond(store_branding(&app, &id, None).await)
}

async fn store_branding(
    app: &App,
    id: &str,
    branding: Option<&Branding>,
) -> Result<Response, AdminError> {
    if !app.db(app.store.set_client_branding(id, branding)).await? {
        return Err(not_found("No such client").into());
    }
    let c = app
        .db(app.store.get_client(id))
        .await?
        .ok_or_else(|| not_found("No such client"))?;
    tracing::info!(client_id = %id, "client branding changed");
    Ok(ok(to_json(&c)))
}

pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> Response {
    respond(
        async {
            if !app.db(app.store.delete_client(&id)).await? {
                return Err(not_found("No such client").into());
            }
            app.limiter.set_override(&id, None);
            tracing::info!(client_id = %id, "client deleted");
            Ok(no_content())
        }
        .await,
    )
}

/// `POST /admin/v1/clients/{client_id}/live`: moves a test client to live (CONTRACT.md §11);
/// 200 with the client. A client already live answers 200 with the client unchanged, so a
/// retry is safe; nothing moves a client back to test (a PATCH cannot name `mode`).
pub async fn go_live(State(app): State<App>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let moved = app
                .db(app.store.set_client_live(&id, crate::now_ms() as i64))
                .await?;
            let c = app
                .db(app.store.get_client(&id))
                .await?
                .ok_or_else(|| not_found("No such client"))?;
            if moved {
                tracing::info!(client_id = %id, "client moved to live");
            }
            Ok(ok(to_json(&c)))
        }
        .await,
    )
}

/// One test number as the admin API (and `tcauth client test-number list --json`) shows it.
/// The code is a test fixture, shown to the operator, never logged.
pub fn test_number_json(t: &TestNumber) -> Value {
    json!({
        "phone_number": t.phone_e164,
        "otp": t.otp,
        "created_at": t.created_at,
    })
}

/// `POST /admin/v1/clients/{client_id}/test-numbers` `{"phone_number":…,"otp":"123456"}`
/// (`otp` optional, `"000000"`): 201 with the test number. Registering a number again gives it
/// the new code.
pub async fn add_test_number(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let bytes = crate::oauth::read_body(&headers, body, MAX_ADMIN_BODY).await?;
            let new: NewTestNumber = parse_json(&bytes).map_err(field_error)?;
            // It is JSON; serde would also take an array for the struct.
            if !matches!(
                serde_json::from_slice::<Value>(&bytes),
                Ok(Value::Object(_))
            ) {
                return Err(field_error(FieldError::new("body", "must be a JSON object")).into());
            }
            let t = new.validate(&id, crate::now()).map_err(field_error)?;
            if !app.db(app.store.put_test_number(&t)).await? {
                return Err(not_found("No such client").into());
            }
            tracing::info!(client_id = %id, "test number registered");
            Ok(created(test_number_json(&t)))
        }
        .await,
    )
}

/// `GET /admin/v1/clients/{client_id}/test-numbers`: `{"test_numbers":[…]}`, by number.
pub async fn list_test_numbers(State(app): State<App>, Path(id): Path<String>) -> Response {
    respond(
        async {
            if app.db(app.store.get_client(&id)).await?.is_none() {
                return Err(not_found("No such client").into());
            }
            let all = app.db(app.store.list_test_numbers(&id)).await?;
            Ok(ok(
                json!({"test_numbers": all.iter().map(test_number_json).collect::<Vec<_>>()}),
            ))
        }
        .await,
    )
}

/// `DELETE /admin/v1/clients/{client_id}/test-numbers/{phone_number}`: 204; the number is
/// read as in the body (E.164, spaces allowed), a number that does not parse is a 400.
pub async fn remove_test_number(
    State(app): State<App>,
    Path((id, phone)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let p = tcauth_core::phone::parse(&phone, None)
                .map_err(|e| field_error(FieldError::new("phone_number", e.to_string())))?;
            if app.db(app.store.get_client(&id)).await?.is_none() {
                return Err(not_found("No such client").into());
            }
            if !app.db(app.store.delete_test_number(&id, &p.e164)).await? {
                return Err(not_found("No such test number").into());
            }
            tracing::info!(client_id = %id, "test number removed");
            Ok(no_content())
        }
        .await,
    )
}
