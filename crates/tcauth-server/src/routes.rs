//! The one table of paths.

use crate::state::App;
use crate::{admin, oauth, ops, pages, signed, verification};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{any, delete, get, post, put};
use axum::Router;
use std::time::Instant;

pub fn router(app: App) -> Router {
    let admin = Router::new()
        .route(
            "/admin/v1/clients",
            post(admin::clients::create).get(admin::clients::list),
        )
        .route(
            "/admin/v1/clients/{client_id}",
            get(admin::clients::show)
                .patch(admin::clients::update)
                .delete(admin::clients::delete),
        )
        .route(
            "/admin/v1/clients/{client_id}/deliveries",
            get(admin::clients::deliveries),
        )
        .route(
            "/admin/v1/clients/{client_id}/branding",
            put(admin::clients::set_branding).delete(admin::clients::clear_branding),
        )
        .route(
            "/admin/v1/clients/{client_id}/live",
            post(admin::clients::go_live),
        )
        .route(
            "/admin/v1/clients/{client_id}/test-numbers",
            post(admin::clients::add_test_number).get(admin::clients::list_test_numbers),
        )
        .route(
            "/admin/v1/clients/{client_id}/test-numbers/{phone_number}",
            delete(admin::clients::remove_test_number),
        )
        .route(
            "/admin/v1/users",
            post(admin::users::create).get(admin::users::find),
        )
        .route(
            "/admin/v1/users/{sub}",
            get(admin::users::show).delete(admin::users::delete),
        )
        .route("/admin/v1/users/{sub}/block", post(admin::users::block))
        .route("/admin/v1/users/{sub}/unblock", post(admin::users::unblock))
        .route(
            "/admin/v1/authorizations",
            post(admin::authorizations::create),
        )
        .route("/admin/v1/profiles", post(admin::profiles::create))
        .route("/admin", get(admin::fallback))
        .route("/admin/{*rest}", any(admin::fallback))
        .route_layer(middleware::from_fn_with_state(app.clone(), admin::guard));

    // `/v1/auth` and the sign-in pages; every response gets the pages' security headers.
    let pages = Router::new()
        .route(
            "/v1/auth",
            get(pages::authorize::get).post(pages::authorize::post),
        )
        .route(
            "/v1/auth/phone",
            get(pages::phone::show).post(pages::phone::submit),
        )
        .route(
            "/v1/auth/code",
            get(pages::code::show).post(pages::code::submit),
        )
        .route("/v1/auth/code/resend", post(pages::code::resend))
        .route("/v1/web/verify", get(pages::web::verify))
        .route(
            "/v1/auth/name",
            get(pages::name::show).post(pages::name::submit),
        )
        .route(
            "/v1/auth/consent",
            get(pages::consent::show).post(pages::consent::submit),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            pages::security::headers,
        ));

    Router::new()
        .route(
            "/v1/token",
            post(oauth::token::handle).fallback(method_not_allowed),
        )
        .route(
            "/v1/userinfo",
            get(oauth::userinfo::handle).post(oauth::userinfo::handle),
        )
        .route(
            "/v1/revoke",
            post(oauth::revoke::handle).fallback(method_not_allowed),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oauth::discovery::configuration),
        )
        .route(oauth::discovery::JWKS_PATH, get(oauth::discovery::jwks))
        .route("/v1/key", get(signed::key::handle))
        .route(
            "/v1/default",
            get(oauth::web_profile::handle).fallback(oauth::web_profile::get_only),
        )
        .route(
            "/v1/otp/client/verification/request",
            post(verification::request::handle).fallback(verification::post_only),
        )
        .route(
            "/v1/otp/client/verification/verify",
            post(verification::verify::handle).fallback(verification::post_only),
        )
        // The token is in the path: the request log shows only this template.
        .route(
            "/v1/otp/client/installation/phoneNumberDetail/{access_token}",
            get(verification::detail::handle).fallback(verification::get_only),
        )
        // SDK v2.8's path (header `appKey`, §10): the same handler.
        .route(
            "/v1/otp/installation/phoneNumberDetail/{access_token}",
            get(verification::detail::handle).fallback(verification::get_only),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(admin)
        .merge(pages)
        .fallback(not_found)
        // Every error answer is JSON, whoever made it (a method router's 405, a rejection).
        .layer(middleware::from_fn(crate::error::json_errors))
        // 414 and 431 before anything else runs (counted and logged as any answer).
        .layer(middleware::from_fn(crate::listener::head_limits))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn not_found() -> Response {
    crate::error::json_response(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not_found"}),
    )
}

async fn method_not_allowed() -> Response {
    let mut r = crate::error::ApiError::oauth(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "Use POST with an application/x-www-form-urlencoded body",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

/// Counts and times every request, logs it (path only: queries may carry secrets), and adds
/// `X-Content-Type-Options: nosniff`.
async fn observe(State(app): State<App>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // A MatchedPath is a shared string: cloning it allocates nothing.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let endpoint = matched.as_ref().map_or("other", |p| p.as_str());
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    let took = start.elapsed();
    let status = resp.status().as_u16();
    app.metrics.record(endpoint, status, took);
    tracing::debug!(%method, endpoint, status, micros = took.as_micros() as u64, "request");
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
