//! One module per command group; each parses its own flags and does its work through the store.

pub mod client;
pub mod keys;
pub mod profile;
pub mod serve;
pub mod user;

use crate::output::print_json;
use crate::store::{Context, StoreArgs};
use anyhow::Result;
use clap::Args;

/// `tcauth migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Print {"database","version","previous_version"} as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    let (before, after) = ctx.migrate().await?;
    if args.json {
        print_json(&serde_json::json!({
            "database": ctx.database.to_string(),
            "version": after,
            "previous_version": before,
        }))
    } else {
        println!("database at version {after} (was {before})");
        Ok(())
    }
}
