//! `tcauth profile …`: SDK v2.8 / iOS signed profiles (CONTRACT.md §10), the command-line twin
//! of `POST /admin/v1/profiles` (the same rules and signing, `tcauth_server::signed`).

use crate::errors::{store_error, usage};
use crate::output::{now, print_json};
use crate::store::{Context, StoreArgs};
use anyhow::{anyhow, Context as _, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use tcauth_core::profile::SIGNATURE_ALGORITHM;
use tcauth_server::keys::KeyRing;
use tcauth_server::signed::profile::{sign, ProfileRequest};

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: ProfileCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Sign a user's profile for an app, as Truecaller's SDK v2.8 and iOS SDK hand it over
    ///
    /// Prints payload (base64 of the profile JSON), signature (SHA512withRSA over the payload
    /// string, with the current signing key) and signatureAlgorithm, then the profile's fields.
    /// The app's backend verifies it with the keys of GET /v1/key; with a package name on the
    /// client, the profile carries a verifier (base64 of HMAC-SHA256 of the package name, keyed
    /// with the app key). Signs with the key the server signs with (generating the first one
    /// if the server never ran).
    #[command(after_help = "Example:
  tcauth profile sign --app-key 5f2c…e1 --sub 4503599627370495 --request-nonce a1b2c3d4e5f6 --json")]
    Sign(SignArgs),
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The app's app key (Truecaller's appKey), as client views show it
    #[arg(long)]
    pub app_key: String,
    /// The user's sub, as printed by `user add`
    #[arg(long)]
    pub sub: String,
    /// The app's requestNonce: 8–64 visible ASCII characters
    #[arg(long)]
    pub request_nonce: String,
    /// Print the signed profile as JSON (the admin API's answer)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ProfileArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    match args.command {
        ProfileCommand::Sign(a) => sign_profile(&ctx, a).await,
    }
}

async fn sign_profile(ctx: &Context, a: SignArgs) -> Result<()> {
    let req = ProfileRequest {
        app_key: a.app_key,
        sub: a.sub,
        request_nonce: a.request_nonce,
    };
    let sub = req.check().map_err(|e| usage(e.to_string()))?;
    let (secret, _) = ctx.secret()?;
    let store = ctx.open().await?;
    let client = store
        .get_client_by_app_key(&req.app_key)
        .await
        .map_err(store_error)?;
    let user = match client {
        Some(_) => store.get_user(sub).await.map_err(store_error)?,
        None => None,
    };
    let profile = req
        .profile(client.as_ref(), user.as_ref(), now())
        .map_err(|e| anyhow!("{e}"))?;
    let keys = KeyRing::load_or_create(store.as_ref(), &secret)
        .await
        .context("cannot load the signing key")?;
    let signed = sign(&keys.get(), profile).context("cannot sign the profile")?;
    if a.json {
        return print_json(&signed.view());
    }
    // payload, signature, signatureAlgorithm, then the fields (alphabetically), one a line.
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("payload: {}", signed.payload);
    println!("signature: {}", signed.signature);
    println!("signatureAlgorithm: {SIGNATURE_ALGORITHM}");
    let fields = serde_json::to_value(&signed.profile)?;
    for (k, v) in fields.as_object().into_iter().flatten() {
        println!("{k}: {}", text(v));
    }
    Ok(())
}
