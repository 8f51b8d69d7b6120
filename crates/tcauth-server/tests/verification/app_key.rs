//! SDK v2.8 / iOS (CONTRACT.md §10): the `appKey` header in place of `clientId` on every
//! verification endpoint, and v2.8's `GET /v1/otp/installation/phoneNumberDetail/{token}`,
//! which answers exactly as the `…/client/installation/…` path.

use super::*;
use receiver::Receiver;

pub const DETAIL_V28: &str = "/v1/otp/installation/phoneNumberDetail/";

/// A partner client and its app key.
async fn sdk_partner(s: &TestServer) -> (String, String) {
    let id = partner(s).await;
    let key = s.store.get_client(&id).await.unwrap().unwrap().app_key;
    (id, key)
}

async fn post_headers(
    s: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut rb = s.http.post(s.url(path)).json(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

async fn get_headers(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = s.http.get(s.url(path));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

/// Request and verify a code for `n` naming the partner by `headers`; the access token.
async fn verified(s: &TestServer, rx: &Receiver, headers: &[(&str, &str)], n: &str) -> String {
    let before = rx.count();
    let (st, _, v) = json_of(post_headers(s, REQUEST, headers, &number(n)).await).await;
    assert_eq!(st, 200, "request: {v}");
    assert_eq!(rx.count(), before + 1);
    let id = v["verificationId"].as_str().unwrap().to_string();
    let code = rx.last().code();
    let (st, _, v) =
        json_of(post_headers(s, VERIFY, headers, &verify_body(&id, &code)).await).await;
    assert_eq!(st, 200, "verify: {v}");
    v["accessToken"].as_str().unwrap().to_string()
}

/// The exact 200 of phoneNumberDetail.
async fn assert_detail(r: reqwest::Response, number: &str) {
    let st = r.status().as_u16();
    assert_eq!(header(r.headers(), "cache-control"), Some("no-store"));
    let text = r.text().await.unwrap();
    assert_eq!(
        (st, text),
        (
            200,
            format!(r#"{{"phoneNumber":{number},"countryCode":"IN"}}"#)
        )
    );
}

#[tokio::test]
async fn the_whole_flow_with_app_key_on_the_v28_path() {
    let (s, rx) = start(|_| {}).await;
    let (_, key) = sdk_partner(&s).await;
    let token = verified(&s, &rx, &[("appKey", &key)], "9876543210").await;
    let path = format!("{DETAIL_V28}{token}");
    assert_detail(
        get_headers(&s, &path, &[("appKey", &key)]).await,
        "919876543210",
    )
    .await;
    // Single use, on either path.
    assert_error(
        get_headers(&s, &path, &[("appKey", &key)]).await,
        404,
        e_token(),
    )
    .await;
    assert_error(
        get_headers(&s, &format!("{DETAIL}{token}"), &[("appKey", &key)]).await,
        404,
        e_token(),
    )
    .await;
}

#[tokio::test]
async fn either_header_on_either_path_names_the_same_client() {
    let (s, rx) = start(|_| {}).await;
    let (id, key) = sdk_partner(&s).await;
    // Verified with clientId, read back with appKey on the v2.8 path…
    let t = verified(&s, &rx, &[("clientId", &id)], "9876543211").await;
    assert_detail(
        get_headers(&s, &format!("{DETAIL_V28}{t}"), &[("appKey", &key)]).await,
        "919876543211",
    )
    .await;
    // …verified with appKey, read back with clientId on §6's path…
    let t = verified(&s, &rx, &[("appKey", &key)], "9876543212").await;
    assert_detail(
        get_headers(&s, &format!("{DETAIL}{t}"), &[("clientId", &id)]).await,
        "919876543212",
    )
    .await;
    // …and clientId on the v2.8 path, both headers on §6's.
    let t = verified(
        &s,
        &rx,
        &[("clientId", &id), ("appKey", &key)],
        "9876543213",
    )
    .await;
    assert_detail(
        get_headers(&s, &format!("{DETAIL_V28}{t}"), &[("clientId", &id)]).await,
        "919876543213",
    )
    .await;
    let t = verified(&s, &rx, &[("appKey", &key)], "9876543214").await;
    assert_detail(
        get_headers(
            &s,
            &format!("{DETAIL}{t}"),
            &[("clientId", &id), ("appKey", &key)],
        )
        .await,
        "919876543214",
    )
    .await;
}

#[tokio::test]
async fn bad_app_keys_are_invalid_partner_credentials() {
    let (s, rx) = start(|_| {}).await;
    let (id, key) = sdk_partner(&s).await;
    let (other_id, other_key) = sdk_partner(&s).await;
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("appKey", "no-such-app-key")],
        vec![("appKey", "")],
        vec![("appKey", &id)],
        vec![("clientId", &key)],
        vec![("appKey", &key), ("appKey", &key)],
        // Both headers must name one client.
        vec![("clientId", &id), ("appKey", &other_key)],
        vec![("clientId", &other_id), ("appKey", &key)],
        vec![("clientId", "no-such-client"), ("appKey", &key)],
        vec![("clientId", &id), ("appKey", "no-such-app-key")],
    ];
    let body = number("9876543215");
    for h in &bad {
        assert_error(post_headers(&s, REQUEST, h, &body).await, 404, e_partner()).await;
        let v = verify_body(&"a".repeat(32), "123456");
        assert_error(post_headers(&s, VERIFY, h, &v).await, 404, e_partner()).await;
        for path in [DETAIL, DETAIL_V28] {
            let r = get_headers(&s, &format!("{path}{}", "A".repeat(43)), h).await;
            assert_error(r, 404, e_partner()).await;
        }
    }
    assert_eq!(rx.count(), 0, "no code sent for a bad partner");
    // A token read by another client's app key is an invalid token, and is not spent.
    let t = verified(&s, &rx, &[("appKey", &key)], "9876543216").await;
    let path = format!("{DETAIL_V28}{t}");
    assert_error(
        get_headers(&s, &path, &[("appKey", &other_key)]).await,
        404,
        e_token(),
    )
    .await;
    assert_detail(
        get_headers(&s, &path, &[("appKey", &key)]).await,
        "919876543216",
    )
    .await;
}

#[tokio::test]
async fn the_v28_path_answers_as_the_client_path() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let (s, _rx) = start_opts(opts, |_| {}).await;
    let (_, key) = sdk_partner(&s).await;
    let h = [("appKey", key.as_str())];
    // Malformed and unknown tokens.
    for t in ["short", &"A".repeat(43)] {
        assert_error(
            get_headers(&s, &format!("{DETAIL_V28}{t}"), &h).await,
            404,
            e_token(),
        )
        .await;
    }
    // Other methods: 405 naming GET.
    let r = s
        .http
        .post(s.url(&format!("{DETAIL_V28}{}", "A".repeat(43))))
        .header("appKey", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "allow"), Some("GET"));
    assert_error(r, 405, e(405, "Method not allowed.")).await;
    // The store down: 503.
    s.fault.as_ref().unwrap().fail();
    let want = e(503, "Service unavailable. Try again.");
    let r = get_headers(&s, &format!("{DETAIL_V28}{}", "A".repeat(43)), &h).await;
    assert_eq!(retry_after(&assert_error(r, 503, want).await), 1);
}
