//! Rows 1–2 of the error table: the body's size (16 KiB, by Content-Length or chunked, and
//! `Connection: close` when a 413 leaves the body unread), its content type and its form
//! encoding.

use super::{post_raw, FORM};
use crate::common::raw;
use crate::common::*;

// --- row 1 ------------------------------------------------------------------------------

/// A form body of exactly `len` bytes for an unknown client (so, under the limit, row 8).
fn padded_form(len: usize) -> Vec<u8> {
    let mut b = b"grant_type=authorization_code&client_id=nobody&code=x&code_verifier=".to_vec();
    assert!(b.len() < len);
    b.resize(len, b'a');
    b
}

#[tokio::test]
async fn row1_content_length_body_over_16_kib_is_413() {
    let s = TestServer::start().await;
    let r = post_raw(&s, "/v1/token", Some(FORM), padded_form(16384)).await;
    assert_json_error(r, 403, e_invalid_client()).await;
    let r = post_raw(&s, "/v1/token", Some(FORM), padded_form(16385)).await;
    assert_json_error(r, 413, e_too_large()).await;
    // A large body on a connection of its own (see the Connection: close test below).
    let r = http_client()
        .post(s.url("/v1/token"))
        .header("content-type", FORM)
        .body(padded_form(1 << 20))
        .send()
        .await
        .unwrap();
    assert_json_error(r, 413, e_too_large()).await;
    // Row 1 comes before row 2.
    let r = post_raw(
        &s,
        "/v1/token",
        Some("application/json"),
        padded_form(20000),
    )
    .await;
    assert_json_error(r, 413, e_too_large()).await;
    assert_eq!(s.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn row1_chunked_body_over_16_kib_is_413() {
    let s = TestServer::start().await;
    let small = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(300), 100);
    let r = raw::send(s.addr, small).await.unwrap();
    assert_eq!(
        (r.status, r.json()),
        (403, e_invalid_client()),
        "chunked bodies are read"
    );
    let at_limit = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(16384), 1000);
    let r = raw::send(s.addr, at_limit).await.unwrap();
    assert_eq!((r.status, r.json()), (403, e_invalid_client()));
    for chunk in [1000, 16385] {
        let big = raw::chunked_request(s.addr, "/v1/token", FORM, &padded_form(16385), chunk);
        let r = raw::send(s.addr, big).await.unwrap();
        assert_eq!(
            (r.status, r.json()),
            (413, e_too_large()),
            "chunks of {chunk}"
        );
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
    }
}

#[tokio::test]
async fn row1_413_that_leaves_the_body_unread_announces_connection_close() {
    // A 413 sent without reading the body ends the connection. Without `Connection: close`
    // a pooling client (reqwest/hyper) reuses the dead connection and an innocent next request
    // fails with BrokenPipe / IncompleteMessage (seen in the fuzz test under load).
    // RFC 9112 §9.6: a server that will close after the response sends `close`.
    let s = TestServer::start().await;
    for size in [200_000usize, 1 << 20] {
        let req = raw::request(
            s.addr,
            "POST",
            "/v1/token",
            &[
                ("Content-Type", FORM.as_bytes()),
                ("Connection", b"keep-alive"),
            ],
            &padded_form(size),
        );
        let req = String::from_utf8(req)
            .unwrap()
            .replacen("Connection: close\r\n", "", 1);
        let (resp, closed) = raw::send_and_probe(s.addr, req.into_bytes()).await.unwrap();
        assert_eq!((resp.status, resp.json()), (413, e_too_large()));
        if closed {
            assert!(
                resp.header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close")),
                "{size}-byte body: the server closed the connection after its 413 without \
                 `Connection: close` (headers {:?})",
                resp.headers
            );
        }
    }
}

// --- row 2 ------------------------------------------------------------------------------

#[tokio::test]
async fn row2_content_type_must_be_form() {
    let s = TestServer::start().await;
    let body = b"grant_type=authorization_code&client_id=x&code=y&code_verifier=z".to_vec();
    for ct in [
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/x-www-form-urlencoded-evil"),
        None,
    ] {
        let r = post_raw(&s, "/v1/token", ct, body.clone()).await;
        assert_invalid_request(r, "content-type").await;
    }
    let r = post_raw(
        &s,
        "/v1/token",
        Some("application/json"),
        br#"{"grant_type":"authorization_code"}"#.to_vec(),
    )
    .await;
    assert_invalid_request(r, "content-type").await;
}

#[tokio::test]
async fn row2_charset_utf8_is_accepted() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    for ct in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
    ] {
        let code = s.mint_code(&client, &sub, &["phone"]).await;
        let body = format!(
            "grant_type=authorization_code&client_id={client}&code={}&code_verifier={}",
            code.code, code.verifier
        );
        let r = post_raw(&s, "/v1/token", Some(ct), body.into_bytes()).await;
        let (st, _, v) = json_of(r).await;
        assert_eq!(st, 200, "{ct}: {v}");
    }
}

#[tokio::test]
async fn row2_malformed_bodies() {
    let s = TestServer::start().await;
    let cases: &[(&[u8], &str)] = &[
        (
            b"grant_type=authorization_code&client_id=%G1&code=x&code_verifier=y",
            "percent",
        ),
        (
            b"grant_type=authorization_code&client_id=x&code=x&code_verifier=%4",
            "percent",
        ),
        (
            b"grant_type=authorization_code&client_id=%FF&code=x&code_verifier=y",
            "utf-8",
        ),
        (
            b"grant_type=authorization_code&client_id=\xff\xfe&code=x&code_verifier=y",
            "utf-8",
        ),
        (
            b"grant_type=authorization_code&client_id=a&client_id=a&code=x&code_verifier=y",
            "client_id",
        ),
        (
            b"grant_type=authorization_code&client_id=a&client_id=b&code=x&code_verifier=y",
            "client_id",
        ),
        // Row 2 comes before row 6 (and 5).
        (b"grant_type=password&grant_type=password", "grant_type"),
        (b"grant_type=&grant_type=", "grant_type"),
    ];
    for (body, needle) in cases {
        let r = post_raw(&s, "/v1/token", Some(FORM), body.to_vec()).await;
        assert_invalid_request(r, needle).await;
    }
}
