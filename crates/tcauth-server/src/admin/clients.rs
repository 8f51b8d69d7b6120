//! `/admin/v1/clients`.

use super::{created, field_error, json_body, no_content, not_found, ok, respond};
use crate::state::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use tcauth_core::model::{Branding, Client};
use tcauth_core::validate::{new_client_id, NewBranding, NewClient};

/// The admin API's view of a client (and the CLI's `--json`).
pub fn to_json(c: &Client) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "name": c.name,
        "redirect_uris": c.redirect_uris,
        "scopes": c.scopes.names(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "created_at": c.created_at,
    });
    if let Some(rl) = c.rate_limit {
        v["rate_limit"] = json!({"per_second": rl.per_second, "burst": rl.burst});
    }
    if let Some(b) = &c.branding {
        v["branding"] = serde_json::to_value(b).unwrap_or(Value::Null);
    }
    v
}

pub async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    respond(
        async {
            let new: NewClient = json_body(&headers, body).await?;
            let client = new
                .validate(new_client_id(), crate::now())
                .map_err(field_error)?;
            app.db(app.store.create_client(&client)).await?;
            app.limiter
                .set_override(&client.client_id, client.rate_limit);
            tracing::info!(client_id = %client.client_id, "client created");
            Ok(created(to_json(&client)))
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
) -> Result<Response, super::AdminError> {
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
