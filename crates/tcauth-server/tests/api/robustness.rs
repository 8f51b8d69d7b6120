//! Fuzz-style robustness: a seeded, reproducible stream of hostile requests at every public
//! and admin endpoint. No 5xx other than 503, the server keeps answering, the store is
//! unchanged and a known good code still redeems.
//!
//! To reproduce a failure, the message names the seed and the request's index; set
//! `TCAUTH_FUZZ_SEED` to run another seed.

use crate::common::raw;
use crate::common::*;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const REQUESTS: usize = 2000;
const GARBAGE_CONNECTIONS: usize = 40;
const PARALLEL: usize = 8;

fn parallel() -> usize {
    std::env::var("TCAUTH_FUZZ_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PARALLEL)
}

/// xorshift64*: tiny, deterministic, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// A length biased towards short, sometimes very long.
    fn len(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1..=6 => self.below(64),
            7 | 8 => self.below(300),
            _ => self.below(20_000),
        }
    }
}

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

struct Known {
    client: String,
    access_token: String,
}

/// A value for a form field: raw bytes, percent-encoded bytes, broken escapes, or a
/// plausible value.
fn value(r: &mut Rng, k: &Known) -> Vec<u8> {
    let n = r.len();
    match r.below(9) {
        0 => r.bytes(n),
        1 => pct(&r.bytes(n.min(4000))).into_bytes(),
        2 => {
            let mut v = r.bytes(n);
            let tail: &[u8] = r.pick(&["%", "%4", "%G1", "%%", "%FF%FE"]).as_bytes();
            v.extend_from_slice(tail);
            v
        }
        3 => k.client.clone().into_bytes(),
        4 => r
            .pick(&["authorization_code", "refresh_token", "password", ""])
            .as_bytes()
            .to_vec(),
        5 => "é☃\u{0}\r\n\t\"\\<>".repeat(1 + n / 16).into_bytes(),
        6 => random_verifier().into_bytes(),
        7 => vec![b'a'; n],
        _ => r
            .pick(&[
                "openid",
                "openid profile phone",
                "admin",
                "phone offline_access",
            ])
            .as_bytes()
            .to_vec(),
    }
}

fn form_body(r: &mut Rng, k: &Known) -> Vec<u8> {
    const KEYS: &[&str] = &[
        "grant_type",
        "client_id",
        "code",
        "code_verifier",
        "refresh_token",
        "scope",
        "redirect_uri",
        "token",
        "token_type_hint",
        "access_token",
        "x",
    ];
    let mut out = Vec::new();
    for _ in 0..r.below(8) {
        if !out.is_empty() {
            out.push(b'&');
        }
        let key: Vec<u8> = if r.chance(85) {
            r.pick(KEYS).as_bytes().to_vec()
        } else {
            r.bytes(12)
        };
        out.extend_from_slice(&key);
        if r.chance(90) {
            out.push(b'=');
            out.extend(value(r, k));
        }
        if r.chance(10) {
            // A duplicated parameter.
            out.push(b'&');
            out.extend_from_slice(&key);
            out.push(b'=');
            out.extend(value(r, k));
        }
    }
    out
}

/// A well-formed request with every required parameter present, random values: reaches the
/// deeper rows (client, grant, code and verifier checks).
fn structured_form(r: &mut Rng, k: &Known) -> Vec<u8> {
    let enc = |v: &[u8]| pct(v);
    let client = if r.chance(70) {
        k.client.clone().into_bytes()
    } else {
        value(r, k)
    };
    let mut parts = vec![format!("client_id={}", enc(&client))];
    match r.below(3) {
        0 => {
            parts.push("grant_type=authorization_code".into());
            parts.push(format!("code={}", enc(&value(r, k))));
            parts.push(format!("code_verifier={}", enc(&value(r, k))));
            if r.chance(30) {
                parts.push(format!("redirect_uri={}", enc(&value(r, k))));
            }
        }
        1 => {
            parts.push("grant_type=refresh_token".into());
            parts.push(format!("refresh_token={}", enc(&value(r, k))));
            if r.chance(50) {
                parts.push(format!("scope={}", enc(&value(r, k))));
            }
        }
        _ => {
            parts.push(format!("token={}", enc(&value(r, k))));
            if r.chance(50) {
                parts.push(format!("token_type_hint={}", enc(&value(r, k))));
            }
        }
    }
    parts.join("&").into_bytes()
}

fn json_body(r: &mut Rng, k: &Known, admin_ok: bool) -> Vec<u8> {
    const FIELDS: &[&str] = &[
        "name",
        "redirect_uris",
        "scopes",
        "grant_types",
        "rate_limit",
        "phone_number",
        "given_name",
        "email",
        "picture",
        "address",
        "client_id",
        "sub",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "redirect_uri",
    ];
    if r.chance(25) {
        let n = r.len().min(5000);
        return r.bytes(n);
    }
    let mut m = serde_json::Map::new();
    for _ in 0..r.below(8) {
        let f = r.pick(FIELDS).to_string();
        let v = match r.below(6) {
            0 => Value::String(String::from_utf8_lossy(&value(r, k)).into_owned()),
            1 => serde_json::json!([String::from_utf8_lossy(&value(r, k)).into_owned()]),
            2 => serde_json::json!(r.next() as i64),
            3 => serde_json::json!({"per_second": r.next() as i64, "locality": null}),
            4 => Value::Null,
            _ => serde_json::json!(r.chance(50)),
        };
        m.insert(f, v);
    }
    if admin_ok {
        // With the real admin token, every body carries a member the API must refuse, so the
        // fuzzer can never create anything (the store must stay unchanged).
        m.insert("x_fuzz_unknown_member".into(), Value::Bool(true));
    }
    let mut s = serde_json::to_vec(&Value::Object(m)).unwrap();
    if r.chance(10) {
        // Invalid UTF-8 inside a string.
        s.splice(1..1, b"\"\xff\xfe\":1,".iter().copied());
    }
    s
}

fn sanitize_header(mut v: Vec<u8>) -> Vec<u8> {
    for b in v.iter_mut() {
        if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
            *b = b'x';
        }
    }
    v
}

#[derive(Debug)]
struct FuzzReq {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    huge_header: bool,
}

fn random_id(r: &mut Rng) -> String {
    match r.below(4) {
        0 => (r.next() >> 11).to_string(),
        1 => pct(&r.bytes(20)),
        2 => "a".repeat(r.below(3000)),
        _ => format!("{}", r.next() as i64),
    }
}

fn generate(r: &mut Rng, k: &Known) -> FuzzReq {
    const METHODS: &[&str] = &[
        "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
    ];
    let target = r.below(4);
    let mut path = match target {
        0 => "/v1/token".to_string(),
        1 => "/v1/revoke".to_string(),
        2 => "/v1/userinfo".to_string(),
        _ => match r.below(6) {
            0 => "/admin/v1/clients".to_string(),
            1 => format!("/admin/v1/clients/{}", random_id(r)),
            2 => "/admin/v1/users".to_string(),
            3 => format!("/admin/v1/users/{}", random_id(r)),
            4 => format!(
                "/admin/v1/users/{}/{}",
                random_id(r),
                r.pick(&["block", "unblock", "x"])
            ),
            _ => "/admin/v1/authorizations".to_string(),
        },
    };
    // Mostly the method the route serves, so most requests reach a handler.
    let proper = match target {
        0 | 1 => "POST",
        2 => *r.pick(&["GET", "POST"]),
        _ if path.ends_with("/clients") || path.ends_with("/users") => *r.pick(&["GET", "POST"]),
        _ if path.ends_with("/authorizations") || path.ends_with("block") => "POST",
        _ => *r.pick(&["GET", "DELETE"]),
    };
    let mut method = if r.chance(80) {
        proper.to_string()
    } else {
        r.pick(METHODS).to_string()
    };
    if r.chance(3) {
        method = (0..1 + r.below(10))
            .map(|_| (b'A' + r.below(26) as u8) as char)
            .collect();
    }
    if r.chance(10) {
        path.push('?');
        path.push_str(&pct(&r.bytes(200)));
    }
    if r.chance(3) {
        path.push_str(&format!("/{}", pct(&r.bytes(30))));
    }
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    const CTS: &[&str] = &[
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded; charset=latin1",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=zz",
    ];
    match r.below(8) {
        0 => {}
        1 => headers.push(("content-type".into(), sanitize_header(r.bytes(80)))),
        _ => headers.push(("content-type".into(), r.pick(CTS).as_bytes().to_vec())),
    }
    let mut admin_ok = false;
    let auth: Option<Vec<u8>> = match (target, r.below(6)) {
        (2, 0) => Some(format!("Bearer {}", k.access_token).into_bytes()),
        (3, 0) | (3, 1) => {
            admin_ok = true;
            Some(format!("Bearer {ADMIN_TOKEN}").into_bytes())
        }
        (_, 2) => Some(format!("Bearer {}", String::from_utf8_lossy(&r.bytes(60))).into_bytes()),
        (_, 3) => Some(sanitize_header(r.bytes(100))),
        (_, 4) => Some(b"Bearer ".to_vec()),
        _ => None,
    };
    if let Some(a) = auth {
        headers.push(("authorization".into(), sanitize_header(a)));
        if r.chance(5) {
            // Two Authorization headers.
            headers.push((
                "authorization".into(),
                format!("Bearer {}", random_verifier()).into_bytes(),
            ));
        }
    }
    let mut huge_header = false;
    if r.chance(3) {
        huge_header = true;
        let name = if r.chance(50) {
            "x-fuzz"
        } else {
            "authorization"
        };
        let mut v = b"Bearer ".to_vec();
        v.extend(std::iter::repeat_n(b'A', 64 * 1024));
        headers.push((name.into(), v));
    }
    let body = if target == 3 {
        json_body(r, k, admin_ok)
    } else if r.chance(15) {
        let n = r.len();
        r.bytes(n)
    } else if r.chance(40) {
        if let Some(h) = headers.iter_mut().find(|(k, _)| k == "content-type") {
            if r.chance(80) {
                h.1 = b"application/x-www-form-urlencoded".to_vec();
            }
        } else if r.chance(80) {
            headers.push((
                "content-type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
        }
        structured_form(r, k)
    } else {
        form_body(r, k)
    };
    // With the admin token, writes always carry a JSON body the API must refuse (or bytes
    // that are no JSON object at all); DELETE and block/unblock hit random ids.
    FuzzReq {
        method,
        path,
        headers,
        body,
        huge_header,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_requests_never_break_the_server_or_the_store() {
    let seed: u64 = std::env::var("TCAUTH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_7CA1_u64);
    let s = TestServer::start_with(|st| {
        st.client_rate_limit = unlimited();
        st.ip_rate_limit = unlimited();
    })
    .await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(
            &client,
            &sub,
            &["openid", "profile", "phone", "offline_access"],
        )
        .await;
    let good_code = s.mint_code(&client, &sub, &["openid", "phone"]).await;
    let known = Known {
        client: client.clone(),
        access_token: v["access_token"].as_str().unwrap().to_string(),
    };
    let before = s.dump_tables();

    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let reqs: Vec<FuzzReq> = (0..REQUESTS).map(|_| generate(&mut rng, &known)).collect();
    for (i, q) in reqs.iter().enumerate() {
        let hit = q
            .body
            .windows(good_code.code.len())
            .any(|w| w == good_code.code.as_bytes());
        assert!(!hit, "request {i} carries the known code");
    }
    // Oversized requests go on connections of their own: the server may close those after
    // its 4xx, and must not poison the pooled connections of the other requests (that is
    // tested on its own in token::row1_413_that_leaves_the_body_unread_announces_connection_close).
    let lone = http_client_no_pool();
    let gate = Arc::new(Semaphore::new(parallel()));
    let mut set = JoinSet::new();
    for (i, q) in reqs.into_iter().enumerate() {
        let oversized = q.body.len() > 16 * 1024 || q.huge_header;
        let http = if oversized {
            lone.clone()
        } else {
            s.http.clone()
        };
        let (base, gate) = (s.base.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let method = reqwest::Method::from_bytes(q.method.as_bytes()).unwrap();
            let mut rb = http.request(method, format!("{base}{}", q.path));
            for (k, v) in &q.headers {
                rb = rb.header(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(v).unwrap(),
                );
            }
            let res = rb.body(q.body.clone()).send().await;
            let outcome = match res {
                Ok(resp) => {
                    let st = resp.status().as_u16();
                    let ct = resp
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    Ok((st, ct, body))
                }
                Err(e) => Err(format!("{e:?}")),
            };
            (i, q, outcome)
        });
    }
    let mut failures = Vec::new();
    let mut histogram = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(r) = set.join_next().await {
        let (i, q, outcome) = r.unwrap();
        let describe = || {
            format!(
                "seed {seed:#x} request {i}: {} {} headers {:?} body {:?}",
                q.method,
                q.path.chars().take(120).collect::<String>(),
                q.headers
                    .iter()
                    .map(|(k, v)| (
                        k.clone(),
                        String::from_utf8_lossy(&v[..v.len().min(60)]).into_owned()
                    ))
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&q.body[..q.body.len().min(200)])
            )
        };
        match outcome {
            Err(e) if q.huge_header => {
                let _ = e; // A server may drop a connection with a 64 KiB header.
            }
            Err(e) => failures.push(format!("{}: transport error {e}", describe())),
            Ok((st, ct, body)) => {
                *histogram.entry(st).or_default() += 1;
                if st >= 500 && st != 503 {
                    failures.push(format!(
                        "{}: got {st} {}",
                        describe(),
                        String::from_utf8_lossy(&body)
                    ));
                }
                // Every error answer is JSON (T12; issue 15, finding 6), but the sign-in
                // pages' HTML: `{"error",…}`, or `{"code",…}` on the verification API.
                let page = q.path.starts_with("/v1/auth") && ct.starts_with("text/html");
                if st >= 400 && !page && q.method != "HEAD" {
                    let v: Option<Value> = serde_json::from_slice(&body).ok();
                    let clean = |d: Option<&Value>| {
                        d.is_none_or(|d| {
                            d.as_str().is_some_and(|d| !d.contains(['\r', '\n', '\t']))
                        })
                    };
                    let ok = ct.starts_with("application/json")
                        && v.as_ref().is_some_and(|v| {
                            (v["error"].is_string() && clean(v.get("error_description")))
                                || (v["code"].is_u64() && clean(v.get("message")))
                        });
                    if !ok {
                        failures.push(format!(
                            "{}: {st} not a clean JSON error ({ct}): {}",
                            describe(),
                            String::from_utf8_lossy(&body)
                        ));
                    }
                }
            }
        }
    }

    // Raw garbage on the socket.
    let addr = s.addr;
    let garbage: Vec<Vec<u8>> = (0..GARBAGE_CONNECTIONS)
        .map(|i| {
            let mut g = match i % 4 {
                0 => rng.bytes(2000),
                1 => {
                    let mut g = b"POST /v1/token HTTP/1.1\r\nHost: x\r\n".to_vec();
                    g.extend(rng.bytes(500));
                    g
                }
                2 => b"POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nabc".to_vec(),
                _ => b"POST /v1/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec(),
            };
            g.extend_from_slice(b"\r\n\r\n");
            g
        })
        .collect();
    let raw_results = tokio::task::spawn_blocking(move || {
        garbage
            .iter()
            .map(|g| raw::send_garbage_blocking(addr, g))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (i, res) in raw_results.into_iter().enumerate() {
        if let Ok(bytes) = res {
            if let Some(resp) = raw::parse(&bytes) {
                if resp.status >= 500 && resp.status != 503 {
                    failures.push(format!("garbage connection {i}: {}", resp.status));
                }
            }
        }
    }

    eprintln!("fuzz seed {seed:#x}: status histogram {histogram:?}");
    assert!(
        failures.is_empty(),
        "{} failures (status histogram {histogram:?}):\n{}",
        failures.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_json_error(
        s.get("/healthz").await,
        200,
        serde_json::json!({"status":"ok"}),
    )
    .await;
    let after = s.dump_tables();
    for ((t1, r1), (t2, r2)) in before.iter().zip(after.iter()) {
        assert_eq!(t1, t2);
        assert_eq!(r1.len(), r2.len(), "rows of table {t1} changed in number");
        assert_eq!(r1, r2, "rows of table {t1} changed");
    }
    assert_eq!(before.len(), after.len());
    s.exchange_ok(&client, &good_code).await;
    assert_eq!(s.userinfo_status(&known.access_token).await, 200);
}
