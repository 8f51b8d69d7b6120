//! Discovery, JWKS and the id_token: CONTRACT.md §4; checklist K1–K4, R7, A9.

use crate::common::*;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

async fn get_json(s: &TestServer, path: &str) -> Value {
    let (st, h, v) = json_of(s.get(path).await).await;
    assert_eq!(st, 200, "{path}: {v}");
    assert_json_content_type(&h);
    v
}

async fn jwks(s: &TestServer) -> Value {
    get_json(s, "/.well-known/jwks.json").await
}

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Verifies `id_token` against the JWKS key of its `kid`; returns (kid, claims).
fn verify(id_token: &str, jwks: &Value, issuer: &str, aud: &str) -> (String, Value) {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("id_token header has a kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS {jwks}"));
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut val = Validation::new(Algorithm::RS256);
    val.set_audience(&[aud]);
    val.set_issuer(&[issuer]);
    val.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    val.leeway = 0;
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &val)
        .unwrap_or_else(|e| panic!("id_token does not verify: {e}"));
    (kid, data.claims)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn discovery_document() {
    let s = TestServer::start().await;
    let d = get_json(&s, "/.well-known/openid-configuration").await;
    let i = &s.base;
    let want = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/v1/auth"),
        "token_endpoint": format!("{i}/v1/token"),
        "userinfo_endpoint": format!("{i}/v1/userinfo"),
        "revocation_endpoint": format!("{i}/v1/revoke"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "scopes_supported": ["openid", "profile", "phone", "email", "address", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_response_iss_parameter_supported": true,
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&d[k], v, "discovery member {k}");
    }
    let claims: BTreeSet<&str> = d["claims_supported"]
        .as_array()
        .expect("claims_supported")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "given_name",
        "family_name",
        "picture",
        "gender",
        "email",
        "phone_number",
        "phone_number_country_code",
        "phone_number_verified",
        "address",
    ] {
        assert!(claims.contains(c), "claims_supported lacks {c}: {claims:?}");
    }
    // jwks_uri really serves the keys.
    let r = s
        .http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn jwks_holds_public_rsa_keys_only() {
    let s = TestServer::start_opts(
        StartOpts {
            seed_key: false,
            ..StartOpts::default()
        },
        |_| {},
    )
    .await;
    let j = jwks(&s).await;
    let keys = j["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "a first start generates one key: {j}");
    assert_eq!(j.as_object().unwrap().len(), 1, "only `keys`: {j}");
    for k in keys {
        let members: BTreeSet<&str> = k.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        assert_eq!(
            members,
            ["alg", "e", "kid", "kty", "n", "use"].into_iter().collect(),
            "{k}"
        );
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "private member {private}");
        }
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
        assert!(n.len() >= 256, "RSA modulus of {} bits", n.len() * 8);
        assert!(!k["kid"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn id_token_claims_and_signature() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let before = now();
    let code = s
        .mint_code_with(
            &client,
            &sub,
            &["openid", "phone"],
            json!({"nonce": "n-0S6_WzA2Mj"}),
        )
        .await;
    let v = s.exchange_ok(&client, &code).await;
    let at = v["access_token"].as_str().unwrap();
    let idt = v["id_token"].as_str().unwrap();
    let j = jwks(&s).await;
    let (kid, c) = verify(idt, &j, &s.base, &client);
    assert!(kids(&j).contains(&kid));
    assert_eq!(c["iss"], s.base.as_str());
    assert_eq!(c["sub"], sub.as_str());
    assert_eq!(c["aud"], client.as_str());
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["at_hash"], at_hash_of(at).as_str());
    let iat = c["iat"].as_i64().unwrap();
    let exp = c["exp"].as_i64().unwrap();
    let auth_time = c["auth_time"].as_i64().unwrap();
    assert!(iat >= before - 1 && iat <= now() + 1, "iat {iat}");
    assert_eq!(exp - iat, 3600);
    assert!(
        auth_time >= before - 1 && auth_time <= iat,
        "auth_time {auth_time}"
    );
    let allowed: BTreeSet<&str> = [
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "auth_time",
        "at_hash",
        "nonce",
        "azp",
    ]
    .into_iter()
    .collect();
    for k in c.as_object().unwrap().keys() {
        assert!(allowed.contains(k.as_str()), "unexpected claim {k}");
    }
    // Our verification is real: a tampered payload fails.
    let mut parts: Vec<String> = idt.split('.').map(String::from).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("1");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let forged = parts.join(".");
    let jwk = &j["keys"][0];
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut val = Validation::new(Algorithm::RS256);
    val.set_audience(&[&client]);
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &val).is_err());

    // The userinfo sub is the id_token sub.
    let (_, _, info) = json_of(s.userinfo(at).await).await;
    assert_eq!(info["sub"], c["sub"]);
}

#[tokio::test]
async fn id_token_without_nonce_when_none_was_sent() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let v = s.tokens(&client, &sub, &["openid"]).await;
    let (_, c) = verify(
        v["id_token"].as_str().unwrap(),
        &jwks(&s).await,
        &s.base,
        &client,
    );
    assert!(c.get("nonce").is_none(), "{c}");
}

#[tokio::test]
async fn refreshed_id_token_keeps_identity_and_drops_nonce() {
    let s = TestServer::start().await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let code = s
        .mint_code_with(
            &client,
            &sub,
            &["openid", "phone", "offline_access"],
            json!({"nonce": "abc"}),
        )
        .await;
    let first = s.exchange_ok(&client, &code).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = s
        .refresh_ok(&client, first["refresh_token"].as_str().unwrap())
        .await;
    let j = jwks(&s).await;
    let (_, c1) = verify(first["id_token"].as_str().unwrap(), &j, &s.base, &client);
    let (_, c2) = verify(second["id_token"].as_str().unwrap(), &j, &s.base, &client);
    for k in ["iss", "sub", "aud", "auth_time"] {
        assert_eq!(c1[k], c2[k], "{k}");
    }
    assert!(c2["iat"].as_i64() > c1["iat"].as_i64(), "new iat");
    assert_eq!(c1["nonce"], "abc");
    assert!(
        c2.get("nonce").is_none(),
        "refreshed id_token has no nonce: {c2}"
    );
    assert_eq!(
        c2["at_hash"],
        at_hash_of(second["access_token"].as_str().unwrap()).as_str()
    );
}

#[tokio::test]
async fn key_rotation_publishes_both_keys_and_signs_with_the_new_one() {
    let s = TestServer::start_with(|st| st.reload_interval = Duration::from_secs(1)).await;
    let client = s.full_client().await;
    let sub = s.create_user().await;
    let before = s.tokens(&client, &sub, &["openid"]).await;
    let old_token = before["id_token"].as_str().unwrap().to_string();
    let j0 = jwks(&s).await;
    let (old_kid, _) = verify(&old_token, &j0, &s.base, &client);
    assert_eq!(kids(&j0).len(), 1);

    let new_kid = tcauth_server::keys::rotate(s.store.as_ref(), &secret())
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);
    let j1 = eventually(Duration::from_secs(10), || async {
        let j = jwks(&s).await;
        kids(&j).contains(&new_kid).then_some(j)
    })
    .await
    .expect("the new key is published within a few reload intervals");
    assert_eq!(
        kids(&j1),
        [old_kid.clone(), new_kid.clone()].into_iter().collect(),
        "both keys published"
    );
    // New tokens are signed with the new key; the old token still verifies.
    let after = s.tokens(&client, &sub, &["openid"]).await;
    let (kid, _) = verify(after["id_token"].as_str().unwrap(), &j1, &s.base, &client);
    assert_eq!(kid, new_kid);
    let (kid, _) = verify(&old_token, &j1, &s.base, &client);
    assert_eq!(kid, old_kid);
}
