//! `tcauth keys …`: the id_token signing keys.

use crate::output::print_json;
use crate::store::{Context, StoreArgs};
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new RS256 signing key and make it the one that signs
    ///
    /// The previous keys stay published in the JWKS, so tokens they signed still verify.
    /// Running servers pick the new key up within `reload_interval`.
    #[command(after_help = "Example:\n  tcauth keys rotate --data-dir /var/lib/tcauth")]
    Rotate {
        /// Print {"kid"} as JSON
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: KeysArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    match args.command {
        KeysCommand::Rotate { json } => {
            let (secret, _) = ctx.secret()?;
            let store = ctx.open().await?;
            let kid = tcauth_server::keys::rotate(store.as_ref(), &secret)
                .await
                .context("cannot rotate the signing key")?;
            if json {
                print_json(&serde_json::json!({ "kid": kid }))
            } else {
                println!("{kid}");
                Ok(())
            }
        }
    }
}
