//! The three endpoints of §6: success shapes, every error, single use, binding, attempts,
//! expiry, races, the webhook's signature and failure, and the DB canary.

use super::*;
use crate::common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tcauth_core::model::VerificationToken;
use tcauth_core::secret::TokenHash;

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn assert_no_store(h: &reqwest::header::HeaderMap) {
    assert_json_content_type(h);
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    assert_eq!(header(h, "pragma"), Some("no-cache"));
}

#[tokio::test]
async fn full_flow_exact_answers_and_signed_webhook() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;

    // request
    let r = request(&s, &client, number("9876543210")).await;
    let (st, h) = (r.status().as_u16(), r.headers().clone());
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(st, 200, "{v}");
    // The contract's member order.
    assert!(
        text.starts_with(r#"{"verificationId":""#)
            && text.ends_with(r#"","method":"otp","ttl":300}"#),
        "{text}"
    );
    assert_no_store(&h);
    assert_eq!(
        keys(&v),
        BTreeSet::from(["verificationId", "method", "ttl"])
    );
    assert_eq!((&v["method"], &v["ttl"]), (&json!("otp"), &json!(300)));
    let id = v["verificationId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    // the gateway call: exact body, exact signature of the exact bytes
    let call = rx.last();
    let code = call.code();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(
        std::str::from_utf8(&call.body).unwrap(),
        format!(
            r#"{{"phone_number":"+919876543210","code":"{code}","expires_in":300,"purpose":"verification"}}"#
        )
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    let want = format!(
        "sha256={}",
        tcauth_core::secret::hex(ring::hmac::sign(&key, &call.body).as_ref())
    );
    assert_eq!(call.header("x-tcauth-signature"), Some(want.as_str()));
    assert_eq!(call.header("content-type"), Some("application/json"));

    // verify
    let r = verify(&s, &client, verify_body(&id, &code)).await;
    let (st, h, v) = json_of(r).await;
    assert_eq!(st, 200, "{v}");
    assert_no_store(&h);
    assert_eq!(keys(&v), BTreeSet::from(["accessToken"]));
    let token = v["accessToken"].as_str().unwrap().to_string();
    assert_strong_secret("verification token", &token);

    // the user was created from the names, verified
    let u = s
        .store
        .get_user_by_phone("+919876543210")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            u.given_name.as_deref(),
            u.family_name.as_deref(),
            u.phone_verified,
            u.phone_country.as_str()
        ),
        (Some("Ravi"), Some("Kumar"), true, "IN")
    );

    // phoneNumberDetail: the number as a JSON number, once
    let r = detail(&s, Some(&client), &token).await;
    let st = r.status().as_u16();
    let h = r.headers().clone();
    let text = r.text().await.unwrap();
    assert_eq!(
        (st, text.as_str()),
        (200, r#"{"phoneNumber":919876543210,"countryCode":"IN"}"#)
    );
    assert_no_store(&h);
    assert_error(detail(&s, Some(&client), &token).await, 404, e_token()).await;

    // DB canary: neither the code nor the token is in any row; the code is kept only as a MAC.
    for (table, rows) in s.dump_tables() {
        for cell in rows.iter().flatten() {
            assert!(
                !cell.contains(&token),
                "the token is stored in clear in {table}: {cell}"
            );
            assert!(
                !has_digit_run(cell, &code),
                "the code is stored in clear in {table}: {cell}"
            );
        }
    }
    let otp_rows = s
        .dump_tables()
        .into_iter()
        .find(|(t, _)| t == "otp_challenges")
        .unwrap()
        .1;
    assert_eq!(otp_rows.len(), 1);
}

/// Whether `code` appears in `cell` as a run of digits of its own (not inside a longer one,
/// as a timestamp or phone number could hold it by chance).
fn has_digit_run(cell: &str, code: &str) -> bool {
    let b = cell.as_bytes();
    cell.match_indices(code).any(|(i, m)| {
        let before = i
            .checked_sub(1)
            .map(|j| b[j].is_ascii_digit())
            .unwrap_or(false);
        let after = b.get(i + m.len()).is_some_and(|c| c.is_ascii_digit());
        !before && !after
    })
}

#[tokio::test]
async fn request_errors() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    let body = number("9876543210");
    // No clientId, an unknown one, two of them.
    assert_error(post_json(&s, REQUEST, None, &body).await, 404, e_partner()).await;
    assert_error(
        request(&s, "no-such-client", number("9876543211")).await,
        404,
        e_partner(),
    )
    .await;
    let r = s
        .http
        .post(s.url(REQUEST))
        .header("clientId", &client)
        .header("clientId", &client)
        .json(&number("9876543212"))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, e_partner()).await;
    // Bad numbers.
    for bad in [
        json!({"phoneNumber": "12", "countryCode": "IN"}),
        json!({"phoneNumber": "hello"}),
        json!({"phoneNumber": "9876543210"}),
        json!({"phoneNumber": "9876543210", "countryCode": "XX"}),
        json!({"phoneNumber": "+44 20 7946 0018"}),
        json!({"phoneNumber": "+44 909 879 0000"}),
        json!({"phoneNumber": ["9876543210"]}),
        json!({"countryCode": "IN"}),
        json!({"phoneNumber": "9876543210", "countryCode": 91}),
    ] {
        assert_error(request(&s, &client, bad).await, 400, e_phone()).await;
    }
    // Bad bodies.
    let raw = |ct: Option<&'static str>, body: Vec<u8>| {
        let mut rb = s
            .http
            .post(s.url(REQUEST))
            .header("clientId", &client)
            .body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb.send()
    };
    for bad in [&b"{"[..], b"[1]", b"\"x\"", b"", b"\xff\xfe"] {
        let r = raw(Some("application/json"), bad.to_vec()).await.unwrap();
        assert_error(r, 400, e(400, "Invalid request body.")).await;
    }
    let r = raw(Some("text/plain"), b"{}".to_vec()).await.unwrap();
    assert_error(r, 415, e(415, "Content-Type must be application/json.")).await;
    let r = raw(None, b"{}".to_vec()).await.unwrap();
    assert_error(r, 415, e(415, "Content-Type must be application/json.")).await;
    let big = format!(
        r#"{{"phoneNumber":"9876543210","pad":"{}"}}"#,
        "x".repeat(16 * 1024)
    );
    let r = raw(Some("application/json"), big.into_bytes())
        .await
        .unwrap();
    assert_error(r, 413, e(413, "Request body too large.")).await;
    // A number must be a string.
    let r = request(&s, &client, json!({"phoneNumber": 919876543218u64})).await;
    assert_error(r, 400, e_phone()).await;
    // A charset parameter and unknown members are fine.
    let r = raw(
        Some("application/json; charset=UTF-8"),
        br#"{"phoneNumber":"9876543219","countryCode":"IN","extra":1}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = request(&s, &client, json!({"phoneNumber": "+91 98765 43218"})).await;
    assert_eq!(r.status(), 200);
    // Only the two good requests reached the gateway.
    assert_eq!(rx.count(), 2);
    // Other methods.
    let r = s.http.get(s.url(REQUEST)).send().await.unwrap();
    let h = assert_error(r, 405, e(405, "Method not allowed.")).await;
    assert_eq!(header(&h, "allow"), Some("POST"));
}

#[tokio::test]
async fn verify_errors_names_and_binding() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    let other = partner(&s).await;
    let (id, code) = request_ok(&s, &rx, &client, number("9876543210")).await;
    let (id2, _) = request_ok(&s, &rx, &client, number("9876543211")).await;

    assert_error(
        post_json(&s, VERIFY, None, &verify_body(&id, &code)).await,
        404,
        e_partner(),
    )
    .await;
    assert_error(
        verify(&s, "nope", verify_body(&id, &code)).await,
        404,
        e_partner(),
    )
    .await;
    // Bad names: 400, and no attempt is spent.
    let long = "a".repeat(129);
    for (first, last) in [
        (json!(""), json!("Kumar")),
        (json!("Ravi"), json!("   ")),
        (json!("12345"), json!("Kumar")),
        (json!("Ravi"), json!("!!!")),
        (json!(long), json!("Kumar")),
        (json!("Ravi"), json!(null)),
        (json!(7), json!("Kumar")),
    ] {
        let mut b = verify_body(&id, &code);
        b["firstName"] = first;
        b["lastName"] = last;
        assert_error(verify(&s, &client, b).await, 400, e_name()).await;
    }
    let mut b = verify_body(&id, &code);
    b.as_object_mut().unwrap().remove("lastName");
    assert_error(verify(&s, &client, b).await, 400, e_name()).await;
    // Unknown, malformed or missing ids and codes.
    for b in [
        verify_body(&"0".repeat(32), &code),
        verify_body("not-an-id", &code),
        json!({"verificationId": id, "firstName": "Ravi", "lastName": "Kumar"}),
        json!({"otp": code, "firstName": "Ravi", "lastName": "Kumar"}),
    ] {
        assert_error(verify(&s, &client, b).await, 400, e_otp()).await;
    }
    // Another client presenting the right code: as if unknown, and no attempt is spent.
    assert_error(
        verify(&s, &other, verify_body(&id, &code)).await,
        400,
        e_otp(),
    )
    .await;
    // The code of one challenge does not open another (bound to its verificationId).
    assert_error(
        verify(&s, &client, verify_body(&id2, &code)).await,
        400,
        e_wrong(4),
    )
    .await;
    // A wrong code: attemptsLeft counts down from 4; so does a malformed one.
    assert_error(
        verify(&s, &client, verify_body(&id, &wrong(&code))).await,
        400,
        e_wrong(4),
    )
    .await;
    assert_error(
        verify(&s, &client, verify_body(&id, "12ab")).await,
        400,
        e_wrong(3),
    )
    .await;
    // The right code still works, once.
    let token = verify_ok(&s, &client, &id, &code).await;
    assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        400,
        e_otp(),
    )
    .await;
    // The token is bound to its client: another client cannot read it (nor spend it).
    assert_error(detail(&s, Some(&other), &token).await, 404, e_token()).await;
    assert_error(detail(&s, None, &token).await, 404, e_partner()).await;
    assert_error(detail(&s, Some("nope"), &token).await, 404, e_partner()).await;
    assert_eq!(detail(&s, Some(&client), &token).await.status(), 200);
    for bad in ["x", &"A".repeat(43), &format!("{token}x")] {
        assert_error(detail(&s, Some(&client), bad).await, 404, e_token()).await;
    }
    // HEAD must not spend a token; POST is not the method.
    let (id3, code3) = request_ok(&s, &rx, &client, number("9876543212")).await;
    let t3 = verify_ok(&s, &client, &id3, &code3).await;
    let r = s
        .http
        .head(s.url(&format!("{DETAIL}{t3}")))
        .header("clientId", &client)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = s
        .http
        .post(s.url(&format!("{DETAIL}{t3}")))
        .header("clientId", &client)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(
            &assert_error(r, 405, e(405, "Method not allowed.")).await,
            "allow"
        ),
        Some("GET")
    );
    assert_eq!(detail(&s, Some(&client), &t3).await.status(), 200);
}

#[tokio::test]
async fn five_wrong_codes_burn_it() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    let (id, code) = request_ok(&s, &rx, &client, number("9876543210")).await;
    for left in (0..5).rev() {
        assert_error(
            verify(&s, &client, verify_body(&id, &wrong(&code))).await,
            400,
            e_wrong(left),
        )
        .await;
    }
    // Even the right code: 429, with Retry-After (the number's resend cooldown).
    let h = assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        429,
        e_locked(),
    )
    .await;
    assert!((1..=30).contains(&retry_after(&h)), "{h:?}");
    let h = assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        429,
        e_locked(),
    )
    .await;
    assert!(retry_after(&h) >= 1);
}

/// Finding 8 of issue 15 (checklist O6): resending gave 5 more guesses each time, 25 per 10
/// minutes. Wrong codes are now capped per number over 24 hours, across resends: past the cap
/// the number is locked (no check, no new code) until the oldest failure leaves the window.
#[tokio::test]
async fn wrong_codes_are_capped_per_number_across_resends() {
    let (s, rx) = start(|s| {
        s.otp_send_limits.resend_cooldown = Duration::ZERO;
        s.otp_send_limits.wrong_codes_per_number = tcauth_server::settings::SendWindow {
            max: 7,
            period: Duration::from_secs(24 * 3600),
        };
    })
    .await;
    let client = partner(&s).await;
    let (id, code) = request_ok(&s, &rx, &client, number("9876543210")).await;
    for left in (0..5).rev() {
        let body = verify_body(&id, &wrong(&code));
        assert_error(verify(&s, &client, body).await, 400, e_wrong(left)).await;
    }
    // A new code: two guesses left for the number today, whatever the challenge allows.
    let (id, code) = request_ok(&s, &rx, &client, number("9876543210")).await;
    let body = verify_body(&id, &wrong(&code));
    assert_error(verify(&s, &client, body).await, 400, e_wrong(1)).await;
    let body = verify_body(&id, &wrong(&code));
    assert_error(verify(&s, &client, body).await, 400, e_wrong(0)).await;
    // Locked: even the right code, for a day.
    let h = assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        429,
        e_locked(),
    )
    .await;
    let ra = retry_after(&h);
    assert!((86_000..=86_400).contains(&ra), "Retry-After {ra}");
    // No new code for that number either; another number is not affected.
    let h = assert_error(
        request(&s, &client, number("9876543210")).await,
        429,
        e_limited(),
    )
    .await;
    let ra = retry_after(&h);
    assert!((86_000..=86_400).contains(&ra), "Retry-After {ra}");
    assert_eq!(rx.count(), 2);
    let (id, code) = request_ok(&s, &rx, &client, number("9876543211")).await;
    verify_ok(&s, &client, &id, &code).await;
}

#[tokio::test]
async fn expired_codes_and_tokens() {
    let (s, rx) = start(|s| s.otp_ttl = Duration::from_secs(1)).await;
    let client = partner(&s).await;
    let (st, _, v) = json_of(request(&s, &client, number("9876543210")).await).await;
    assert_eq!((st, &v["ttl"]), (200, &json!(1)));
    let id = v["verificationId"].as_str().unwrap().to_string();
    let code = rx.last().code();
    assert_eq!(rx.last().json()["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        400,
        e_otp(),
    )
    .await;
    // Still no attempt spent on an expired code: same generic answer for wrong ones.
    assert_error(
        verify(&s, &client, verify_body(&id, &wrong(&code))).await,
        400,
        e_otp(),
    )
    .await;

    // An expired verification token (put in the store directly: they live 10 minutes).
    let now = tcauth_server::now();
    let token = "E".repeat(43);
    s.store
        .insert_verification_token(&VerificationToken {
            hash: TokenHash::of(&token),
            client_id: client.clone(),
            phone_e164: "+919876543210".into(),
            phone_country: "IN".into(),
            created_at: now - 700,
            expires_at: now - 100,
            used_at: None,
        })
        .await
        .unwrap();
    assert_error(detail(&s, Some(&client), &token).await, 404, e_token()).await;
}

#[tokio::test]
async fn parallel_verify_of_one_code_wins_once() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    let (id, code) = request_ok(&s, &rx, &client, number("9876543210")).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url, client, body, barrier) = (
            s.http.clone(),
            s.url(VERIFY),
            client.clone(),
            verify_body(&id, &code),
            barrier.clone(),
        );
        tasks.spawn(async move {
            barrier.wait().await;
            let r = http
                .post(url)
                .header("clientId", client)
                .json(&body)
                .send()
                .await
                .unwrap();
            json_of(r).await
        });
    }
    let (mut ok, mut invalid) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            (200, _, _) => ok += 1,
            (400, _, v) if v == e_otp() => invalid += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, invalid), (1, 19));
}

/// Known and unknown numbers get the same answers; a known user's profile is never changed.
#[tokio::test]
async fn known_and_unknown_numbers_look_alike() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    s.create_user().await; // +919876543210, "Asha Rao"
    let mut answers = Vec::new();
    for n in ["9876543210", "9876543299"] {
        let (st, h, mut v) = json_of(request(&s, &client, number(n)).await).await;
        let id = v["verificationId"].as_str().unwrap().to_string();
        v["verificationId"] = json!("<id>");
        let code = rx.last().code();
        let w = json_of(verify(&s, &client, verify_body(&id, &wrong(&code))).await).await;
        let again = json_of(request(&s, &client, number(n)).await).await;
        let token = verify_ok(&s, &client, &id, &code).await;
        let d = json_of(detail(&s, Some(&client), &token).await).await;
        answers.push((
            (st, header(&h, "cache-control").map(str::to_string), v),
            (w.0, w.2),
            (again.0, again.2, retry_after(&again.1) > 0),
            (
                d.0,
                keys(&d.2)
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            token.len(),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    let known = s
        .store
        .get_user_by_phone("+919876543210")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            known.given_name.as_deref(),
            known.family_name.as_deref(),
            known.email.as_deref()
        ),
        (Some("Asha"), Some("Rao"), Some("asha@example.com"))
    );
    let new = s
        .store
        .get_user_by_phone("+919876543299")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.given_name.as_deref(), Some("Ravi"));
}

#[tokio::test]
async fn failing_gateway_gives_503_and_an_unusable_challenge() {
    let (s, rx) = start(|_| {}).await;
    let client = partner(&s).await;
    rx.answer(500);
    let h = assert_error(
        request(&s, &client, number("9876543210")).await,
        503,
        e(503, "Could not send the OTP. Try again."),
    )
    .await;
    assert!((1..=30).contains(&retry_after(&h)), "{h:?}");
    // The gateway got the code, but the challenge is withdrawn: the code opens nothing.
    let code = rx.last().code();
    let rows = s
        .dump_tables()
        .into_iter()
        .find(|(t, _)| t == "otp_challenges")
        .unwrap()
        .1;
    assert_eq!(rows.len(), 1);
    let id = rows[0][0].clone();
    assert_ne!(
        rows[0].last().unwrap(),
        "NULL",
        "consumed_at is set: {rows:?}"
    );
    assert_error(
        verify(&s, &client, verify_body(&id, &code)).await,
        400,
        e_otp(),
    )
    .await;
    // An unreachable gateway (another number: no cooldown): the same 503.
    drop(rx);
    let h = assert_error(
        request(&s, &client, number("9876543211")).await,
        503,
        e(503, "Could not send the OTP. Try again."),
    )
    .await;
    assert!(retry_after(&h) >= 1);
}

#[tokio::test]
async fn store_unavailable_is_503() {
    let opts = StartOpts {
        faulty: true,
        ..StartOpts::default()
    };
    let (s, rx) = start_opts(opts, |_| {}).await;
    let client = partner(&s).await;
    s.fault.as_ref().unwrap().fail();
    let want = e(503, "Service unavailable. Try again.");
    let h = assert_error(
        request(&s, &client, number("9876543210")).await,
        503,
        want.clone(),
    )
    .await;
    assert_eq!(retry_after(&h), 1);
    assert_eq!(rx.count(), 0, "nothing is sent when the store is down");
    let b = verify_body(&"a".repeat(32), "123456");
    assert_error(verify(&s, &client, b).await, 503, want.clone()).await;
    assert_error(detail(&s, Some(&client), &"A".repeat(43)).await, 503, want).await;
}
