//! The real binary, killed with SIGKILL in the middle of a load of code exchanges, then started
//! again on the same data directory:
//! - every access token acknowledged with a 200 before the kill still works (none lost);
//! - every code acknowledged as redeemed stays redeemed (none resurrected);
//! - the server's log, at debug level, never contains a code, verifier or token;
//! - a Mobile Websites callback queued while its receiver is down, the server killed while
//!   retrying it, is delivered exactly once, with the same delivery id, after the restart.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tcauth_testkit::ports::free_port;
use tcauth_testkit::ready;

const BIN: &str = env!("CARGO_BIN_EXE_tcauth");
const ADMIN: &str = "crash-test-admin-token-0123456789";

fn start(data: &Path, port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .current_dir(data.parent().unwrap())
        .env_clear()
        .env("TCAUTH_ADMIN_TOKEN", ADMIN)
        .env("TCAUTH_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    ready::wait_ready(http, &format!("{base}/readyz"), Duration::from_secs(20)).await;
}

fn challenge(verifier: &str) -> String {
    // Tested against RFC 7636's vector in tcauth-core.
    tcauth_core::pkce::s256_challenge(verifier)
}

struct Issued {
    code: String,
    verifier: String,
    access_token: String,
}

async fn post_json(http: &reqwest::Client, url: String, body: Value) -> Value {
    let r = http
        .post(url)
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_tokens_survive_sigkill_and_logs_hold_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut child = start(&data, port, &log);
    wait_ready(&http, &base).await;
    let client = post_json(
        &http,
        format!("{base}/admin/v1/clients"),
        json!({"name":"crash","redirect_uris":["https://c.example/cb"],
               "scopes":["openid","phone"],"grant_types":["authorization_code"]}),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let user = post_json(
        &http,
        format!("{base}/admin/v1/users"),
        json!({"phone_number":"+919876543210"}),
    )
    .await;
    let sub = user["sub"].as_str().unwrap().to_string();

    // Eight workers mint and exchange codes until the server dies under them.
    let acked: Arc<Mutex<Vec<Issued>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (http, base, client_id, sub) =
            (http.clone(), base.clone(), client_id.clone(), sub.clone());
        let (acked, stop) = (acked.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let verifier = format!("{:0>43}", format!("w{w}n{n}"));
                let minted = http
                    .post(format!("{base}/admin/v1/authorizations"))
                    .bearer_auth(ADMIN)
                    .json(&json!({"client_id":client_id,"sub":sub,"scopes":["phone"],
                        "code_challenge":challenge(&verifier),"code_challenge_method":"S256"}))
                    .send()
                    .await;
                let Ok(minted) = minted else { break };
                let Ok(minted) = minted.json::<Value>().await else {
                    break;
                };
                let code = minted["code"].as_str().unwrap_or_default().to_string();
                let resp = http
                    .post(format!("{base}/v1/token"))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", client_id.as_str()),
                        ("code", code.as_str()),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await;
                let Ok(resp) = resp else { break };
                if resp.status() != 200 {
                    continue;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                acked.lock().unwrap().push(Issued {
                    code,
                    verifier,
                    access_token: body["access_token"].as_str().unwrap().to_string(),
                });
            }
        }));
    }
    // Let the load run, then kill the server mid-flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= 200,
        "only {} exchanges before the kill",
        acked.len()
    );

    let mut child = start(&data, port, &log);
    wait_ready(&http, &base).await;
    let mut lost = 0;
    let mut resurrected = 0;
    for i in &acked {
        let r = http
            .get(format!("{base}/v1/userinfo"))
            .bearer_auth(&i.access_token)
            .send()
            .await
            .unwrap();
        // Scope `phone` without `openid`: a live token answers 422, a lost one 401.
        match r.status().as_u16() {
            422 => {}
            401 => lost += 1,
            s => panic!("unexpected userinfo status {s}"),
        }
    }
    for i in acked.iter().take(50) {
        let r = http
            .post(format!("{base}/v1/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client_id.as_str()),
                ("code", i.code.as_str()),
                ("code_verifier", i.verifier.as_str()),
            ])
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            resurrected += 1;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "SIGKILL test: {} exchanges acknowledged before the kill, {lost} lost, \
         {resurrected} of 50 codes redeemable again",
        acked.len()
    );
    assert_eq!(
        (lost, resurrected),
        (0, 0),
        "of {} acknowledged",
        acked.len()
    );

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    for i in &acked {
        for secret in [&i.code, &i.verifier, &i.access_token] {
            assert!(!log.contains(secret.as_str()), "a secret reached the log");
        }
    }
    assert!(!log.contains(ADMIN), "the admin token reached the log");
}

/// A server with a known secret (the test queues callbacks sealed under it) and a fast
/// callback worker.
fn start_fast(dir: &Path, data: &Path, port: u16, log: &Path) -> Child {
    let config = dir.join("tcauth.toml");
    std::fs::write(&config, crate::outbox::FAST).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .env_clear()
        .env("TCAUTH_SECRET", crate::outbox::SECRET_TEXT)
        .env("TCAUTH_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_callback_survives_sigkill_and_is_delivered_once() {
    use crate::outbox::{all_delivered, client_with_callback, queue_body, wait_log};
    use tcauth_server::callbacks::Body;
    use tcauth_store::{SqliteStore, Store};
    use tcauth_testkit::receiver::Receiver;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = free_port();
    let rx_port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut child = start_fast(dir.path(), &data, port, &log);
    wait_ready(&http, &base).await;
    // The test writes to the server's SQLite file as the dialog would, from its own process.
    let store = SqliteStore::open(data.join("tcauth.db")).unwrap();
    let client = client_with_callback(&store, &format!("http://127.0.0.1:{rx_port}/cb")).await;
    let token = format!("tok-{}", tcauth_core::secret::new_id());
    let body = Body::Granted {
        request_id: "nonce-crash-001".into(),
        access_token: token.clone(),
        endpoint: format!("{base}/v1/default"),
    };
    let d = queue_body(&store, &client, &body, tcauth_server::now_ms() as i64).await;
    // The receiver is down: the server retries.
    let retrying = wait_log(&store, &client.client_id, Duration::from_secs(15), |l| {
        l.len() == 1 && l[0].attempts >= 2
    })
    .await;
    assert!(
        retrying[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("connect: ")),
        "{:?}",
        retrying[0].last_error
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let attempts_before = store.list_deliveries(&client.client_id, 10).await.unwrap()[0].attempts;

    let rx = Receiver::start_on(rx_port, vec![]).await;
    let mut child = start_fast(dir.path(), &data, port, &log);
    wait_ready(&http, &base).await;
    // Within the 30 s lease, should the kill have met an attempt in flight.
    let done = wait_log(
        &store,
        &client.client_id,
        Duration::from_secs(45),
        all_delivered,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let calls = rx.calls();
    eprintln!(
        "SIGKILL callback test: {attempts_before} attempts before the kill, delivered at \
         attempt {}, {} callback(s) received",
        done[0].attempts,
        calls.len()
    );
    assert_eq!(calls.len(), 1, "exactly one callback");
    assert_eq!(calls[0].header("x-tcauth-delivery"), Some(d.id.as_str()));
    assert_eq!(calls[0].body, body.to_bytes());
    assert!(done[0].attempts > attempts_before);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    assert!(
        !log.contains(crate::outbox::SECRET_TEXT),
        "the secret reached the log"
    );
    assert!(
        !log.contains(&token),
        "the callback's token reached the log"
    );
    let sig = calls[0].header("x-tcauth-signature").unwrap();
    assert!(!log.contains(&sig[7..]), "the signature reached the log");
    let salt = client.callback_salt.as_deref().unwrap();
    let cb_secret = tcauth_server::callbacks::secret(&crate::outbox::server_secret(), salt);
    assert!(
        !log.contains(&cb_secret),
        "the callback secret reached the log"
    );
}
