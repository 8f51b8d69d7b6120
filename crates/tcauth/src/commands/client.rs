//! `tcauth client …`: the apps allowed to sign users in.

use crate::errors::{store_error, usage};
use crate::output::{client_text, now, print_json, timestamp, ClientView};
use crate::store::{Context, StoreArgs};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use tcauth_core::model::RateLimit;
use tcauth_core::validate::{new_client_id, NewBranding, NewClient};

#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a new client app and print its client_id
    ///
    /// Clients are public (no client secret): they prove themselves with PKCE, and tcauth
    /// redirects only to the URIs registered here, compared exactly.
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// List every client, oldest first
    List {
        /// Print a JSON array of clients
        #[arg(long)]
        json: bool,
    },
    /// Show one client
    Show {
        /// The client_id
        client_id: String,
        /// Print the client as JSON
        #[arg(long)]
        json: bool,
    },
    /// Set how the consent page looks for a client (the Truecaller SDK's options)
    ///
    /// Replaces the client's whole branding: options not given take their defaults
    /// ("Login to <app>", an "Allow" button, rounded, the page's colour, no links).
    #[command(after_help = BRAND_EXAMPLES)]
    Brand(BrandArgs),
    /// Delete a client; its apps can no longer get or refresh tokens
    Delete {
        /// The client_id
        client_id: String,
        /// Print {"client_id","deleted"} as JSON
        #[arg(long)]
        json: bool,
    },
}

const CREATE_EXAMPLES: &str = "Examples:
  tcauth client create --name 'Shop' --redirect-uri https://shop.example/callback \\
      --scope 'openid phone profile'
  tcauth client create --name 'Shop app' --redirect-uri com.example.shop:/oauth \\
      --scope openid,phone,offline_access --grant-type authorization_code \\
      --grant-type refresh_token --rate-limit-per-second 50 --rate-limit-burst 100 --json";

const BRAND_EXAMPLES: &str = "Examples:
  tcauth client brand 0123456789abcdefghijklmn --heading sign_up_with --button-text continue \\
      --button-color '#0B6E4F' --button-shape rectangle \\
      --privacy-url https://shop.example/privacy --terms-url https://shop.example/terms
  tcauth client brand 0123456789abcdefghijklmn --reset";

#[derive(Debug, Args)]
pub struct BrandArgs {
    /// The client_id
    pub client_id: String,
    /// Heading before the app's name: login_to, sign_up_with, proceed_with, continue_with
    #[arg(long)]
    pub heading: Option<String>,
    /// Label of the consent button: continue, proceed, accept, allow
    #[arg(long)]
    pub button_text: Option<String>,
    /// Colour of the consent button, as #RRGGBB
    #[arg(long, value_name = "#RRGGBB")]
    pub button_color: Option<String>,
    /// Shape of the buttons: rounded, rectangle
    #[arg(long)]
    pub button_shape: Option<String>,
    /// The app's privacy policy (an https URL)
    #[arg(long, value_name = "URL")]
    pub privacy_url: Option<String>,
    /// The app's terms of service (an https URL)
    #[arg(long, value_name = "URL")]
    pub terms_url: Option<String>,
    /// Remove the branding: the consent page uses the defaults
    #[arg(long, conflicts_with_all = ["heading", "button_text", "button_color", "button_shape", "privacy_url", "terms_url"])]
    pub reset: bool,
    /// Print the client as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name shown to users on the consent page
    #[arg(long)]
    pub name: String,
    /// A redirect URI (repeatable): https, http on 127.0.0.1 or [::1], or an app's private-use
    /// scheme such as com.example.app:/oauth2redirect
    #[arg(long = "redirect-uri", value_name = "URI", required = true)]
    pub redirect_uris: Vec<String>,
    /// Scopes the client may request (repeatable, or separated by spaces or commas):
    /// openid profile phone email address offline_access
    #[arg(long = "scope", value_name = "SCOPES", required = true)]
    pub scopes: Vec<String>,
    /// Grants the client may use (repeatable, or comma separated): authorization_code,
    /// refresh_token [default: authorization_code]
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    /// The client's own token-endpoint rate limit, in requests per second
    #[arg(long, value_name = "N", requires = "rate_limit_burst")]
    pub rate_limit_per_second: Option<u32>,
    /// The client's own burst size (with --rate-limit-per-second)
    #[arg(long, value_name = "N", requires = "rate_limit_per_second")]
    pub rate_limit_burst: Option<u32>,
    /// Print the new client as JSON
    #[arg(long)]
    pub json: bool,
}

/// Splits repeatable values that may also be space- or comma-separated lists.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn run(args: ClientArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    match args.command {
        ClientCommand::Create(a) => create(&ctx, a).await,
        ClientCommand::List { json } => {
            let clients = ctx
                .open()
                .await?
                .list_clients()
                .await
                .map_err(store_error)?;
            if json {
                let views: Vec<ClientView> = clients.iter().map(ClientView::from).collect();
                return print_json(&views);
            }
            if clients.is_empty() {
                eprintln!("no clients yet; add one with `tcauth client create`");
                return Ok(());
            }
            println!(
                "{:<24}  {:<20}  {:<30}  NAME",
                "CLIENT_ID", "CREATED", "SCOPES"
            );
            for c in &clients {
                let scopes = c.scopes.names().join(" ");
                let created = timestamp(c.created_at);
                println!(
                    "{:<24}  {created:<20}  {scopes:<30}  {}",
                    c.client_id, c.name
                );
            }
            Ok(())
        }
        ClientCommand::Show { client_id, json } => {
            let store = ctx.open().await?;
            let client = store
                .get_client(&client_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| not_found(&client_id))?;
            if json {
                print_json(&ClientView::from(&client))
            } else {
                print!("{}", client_text(&client));
                Ok(())
            }
        }
        ClientCommand::Brand(a) => brand(&ctx, a).await,
        ClientCommand::Delete { client_id, json } => {
            let store = ctx.open().await?;
            if !store.delete_client(&client_id).await.map_err(store_error)? {
                return Err(not_found(&client_id));
            }
            if json {
                print_json(&serde_json::json!({ "client_id": client_id, "deleted": true }))
            } else {
                println!("deleted client {client_id}");
                Ok(())
            }
        }
    }
}

fn not_found(client_id: &str) -> anyhow::Error {
    let id: String = client_id.chars().take(64).collect();
    anyhow!("no client with id {id:?}; `tcauth client list` shows them")
}

async fn brand(ctx: &Context, a: BrandArgs) -> Result<()> {
    let branding = if a.reset {
        None
    } else {
        let new = NewBranding {
            heading: a.heading,
            button_text: a.button_text,
            button_color: a.button_color,
            button_shape: a.button_shape,
            privacy_url: a.privacy_url,
            terms_url: a.terms_url,
        };
        let b = new
            .validate()
            .map_err(|e| usage(format!("--{}: {}", e.field.replace('_', "-"), e.message)))?;
        Some(b)
    };
    let store = ctx.open().await?;
    if !store
        .set_client_branding(&a.client_id, branding.as_ref())
        .await
        .map_err(store_error)?
    {
        return Err(not_found(&a.client_id));
    }
    let client = store
        .get_client(&a.client_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&a.client_id))?;
    if a.json {
        print_json(&ClientView::from(&client))
    } else {
        print!("{}", client_text(&client));
        Ok(())
    }
}

async fn create(ctx: &Context, a: CreateArgs) -> Result<()> {
    let mut grant_types = split_list(&a.grant_types);
    if grant_types.is_empty() {
        grant_types.push("authorization_code".into());
    }
    let rate_limit = match (a.rate_limit_per_second, a.rate_limit_burst) {
        (Some(per_second), Some(burst)) => Some(RateLimit { per_second, burst }),
        _ => None,
    };
    let new = NewClient {
        name: a.name,
        redirect_uris: a.redirect_uris,
        scopes: split_list(&a.scopes),
        grant_types,
        rate_limit,
        branding: None,
        callback_url: None,
        package_name: None,
    };
    let client = new
        .validate(new_client_id(), now())
        .map_err(|e| usage(e.to_string()))?;
    let store = ctx.open().await?;
    store.create_client(&client).await.map_err(store_error)?;
    if a.json {
        print_json(&ClientView::from(&client))
    } else {
        print!("{}", client_text(&client));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn lists_split_on_spaces_and_commas() {
        let v = vec![
            "openid phone".to_string(),
            "email,address".into(),
            " ,".into(),
        ];
        assert_eq!(split_list(&v), ["openid", "phone", "email", "address"]);
    }
}
