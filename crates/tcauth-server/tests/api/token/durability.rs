//! Concurrency and durability: concurrent redemptions of one code (exactly one 200), tokens
//! across a restart, no secret stored in clear, private database files without a plain
//! private key.

use crate::common::*;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_yield_exactly_one_200() {
    const CODES: usize = 100;
    const RACERS: usize = 20;
    const AT_ONCE: usize = 5;
    let s = TestServer::start_with(|st| st.client_rate_limit = unlimited()).await;
    let client = s.create_client(&["phone"], &["authorization_code"]).await;
    let sub = s.create_user().await;
    let mut codes = Vec::new();
    for _ in 0..CODES {
        codes.push(s.mint_code(&client, &sub, &["phone"]).await);
    }
    let mut wins = vec![0usize; CODES];
    let mut losers = 0usize;
    for (b, batch) in codes.chunks(AT_ONCE).enumerate() {
        let barrier = Arc::new(Barrier::new(batch.len() * RACERS));
        let mut set = JoinSet::new();
        for (i, code) in batch.iter().enumerate() {
            for _ in 0..RACERS {
                let (http, url, barrier) = (s.http.clone(), s.url("/v1/token"), barrier.clone());
                let form = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("client_id", client.clone()),
                    ("code", code.code.clone()),
                    ("code_verifier", code.verifier.clone()),
                ];
                set.spawn(async move {
                    barrier.wait().await;
                    let r = http.post(url).form(&form).send().await.unwrap();
                    let st = r.status().as_u16();
                    (b * AT_ONCE + i, st, r.text().await.unwrap())
                });
            }
        }
        while let Some(r) = set.join_next().await {
            let (idx, st, body) = r.unwrap();
            match st {
                200 => wins[idx] += 1,
                403 => {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(v, e_invalid_code(), "loser of code {idx}");
                    losers += 1;
                }
                _ => panic!("code {idx}: unexpected {st} {body}"),
            }
        }
    }
    assert_eq!(wins.iter().sum::<usize>(), CODES, "wins per code: {wins:?}");
    assert!(wins.iter().all(|w| *w == 1), "wins per code: {wins:?}");
    assert_eq!(losers, CODES * (RACERS - 1));
}

#[tokio::test]
async fn issued_tokens_survive_a_restart() {
    let mut s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s
        .tokens(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let at = v["access_token"].as_str().unwrap().to_string();
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let pending = s.mint_code(&client, &sub, &["phone"]).await;
    s.restart().await;
    let (st, _, info) = json_of(s.userinfo(&at).await).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], sub.as_str());
    s.refresh_ok(&client, &rt).await;
    s.exchange_ok(&client, &pending).await;
}

/// Searches `hay` for `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn secrets_are_not_stored_in_clear() {
    let mut s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s
        .mint_code(&client, &sub, &["openid", "phone", "offline_access"])
        .await;
    let v1 = s.exchange_ok(&client, &code).await;
    let rt1 = v1["refresh_token"].as_str().unwrap().to_string();
    let v2 = s.refresh_ok(&client, &rt1).await;
    let burnt = s.mint_code(&client, &sub, &["phone"]).await;
    let wrong = Code {
        verifier: random_verifier(),
        ..burnt.clone()
    };
    s.exchange(&client, &wrong).await;
    let mut secrets: Vec<(String, String)> = vec![
        ("code".into(), code.code.clone()),
        ("code_verifier".into(), code.verifier.clone()),
        ("burnt code".into(), burnt.code.clone()),
        ("wrong verifier".into(), wrong.verifier.clone()),
        ("admin token".into(), ADMIN_TOKEN.into()),
    ];
    for (n, v) in [("first", &v1), ("second", &v2)] {
        for k in ["access_token", "refresh_token"] {
            secrets.push((format!("{n} {k}"), v[k].as_str().unwrap().to_string()));
        }
    }
    s.stop().await;

    let dump = format!("{:?}", s.dump_tables());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(s.dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            files.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    assert!(!files.is_empty());
    let server_secret_hex = "07".repeat(32);
    assert!(
        !dump.contains(&server_secret_hex),
        "the server secret is in the store"
    );
    for (what, secret) in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "{what} found in the table dump"
        );
        let decoded = URL_SAFE_NO_PAD_DECODE(secret);
        if let Some(raw_bytes) = &decoded {
            let hex = tcauth_core::secret::hex(raw_bytes);
            assert!(
                !dump.contains(&hex),
                "{what} (decoded) found in the table dump"
            );
        }
        for (p, bytes) in &files {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "{what} found in {}",
                p.display()
            );
            if let Some(raw_bytes) = &decoded {
                assert!(
                    !contains(bytes, raw_bytes),
                    "{what} (decoded) found in {}",
                    p.display()
                );
            }
        }
    }
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_DECODE(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .filter(|b| b.len() >= 16)
}

#[tokio::test]
async fn database_files_are_private_and_hold_no_plain_private_key() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start_opts(
        StartOpts {
            seed_key: false,
            ..StartOpts::default()
        },
        |_| {},
    )
    .await;
    // The server generated its key at start-up; make it write something too.
    let client = s.full_client().await;
    let sub = s.create_user().await;
    s.tokens(&client, &sub, &["openid", "phone"]).await;
    let mode = std::fs::metadata(&s.db_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", s.db_path.display());
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", s.db_path.display()));
        if let Ok(m) = std::fs::metadata(&p) {
            let mode = m.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
        }
    }
    // PKCS#1 RSAPrivateKey DER: SEQUENCE, INTEGER 0 (version), INTEGER (2048-bit modulus).
    let dump = format!("{:?}", s.dump_tables());
    assert!(
        !dump.contains("0201000282010100"),
        "an unencrypted RSA private key is stored"
    );
    assert!(!dump.contains("BEGIN RSA PRIVATE KEY") && !dump.contains("BEGIN PRIVATE KEY"));
}
