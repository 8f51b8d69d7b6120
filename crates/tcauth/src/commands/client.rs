//! `tcauth client …`: the apps allowed to sign users in.

use crate::errors::{store_error, usage};
use crate::output::{client_text, now, print_json, timestamp, ClientView};
use crate::store::{Context, StoreArgs};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use tcauth_core::model::{Client, RateLimit};
use tcauth_core::validate::{new_client_id, ClientPatch, NewBranding, NewClient};

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
    /// Change a client: only the options given change, each checked as at creation
    ///
    /// Running servers apply the change within 1 s. Setting --callback-url (even to the same
    /// URL) makes a new callback signing secret, printed once.
    #[command(after_help = UPDATE_EXAMPLES)]
    Update(UpdateArgs),
    /// List a client's recent Mobile Websites callback deliveries, newest first
    #[command(
        after_help = "Example:\n  tcauth client deliveries 0123456789abcdefghijklmn --limit 10 --json"
    )]
    Deliveries {
        /// The client_id
        client_id: String,
        /// How many, 1-100
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Print {"deliveries":[…]} as JSON (the admin API's shape)
        #[arg(long)]
        json: bool,
    },
    /// Set how the consent page looks for a client (the Truecaller SDK's options)
    ///
    /// Replaces the client's whole branding: options not given take their defaults
    /// ("Login to <app>", an "Allow" button, rounded, the page's colour, no links).
    #[command(after_help = BRAND_EXAMPLES)]
    Brand(BrandArgs),
    /// Move a test client to live: every number signs in, test numbers become ordinary
    /// numbers; a live client never goes back to test (already live: unchanged)
    #[command(after_help = "Example:\n  tcauth client live 0123456789abcdefghijklmn")]
    Live {
        /// The client_id
        client_id: String,
        /// Print the client as JSON
        #[arg(long)]
        json: bool,
    },
    /// A test client's test numbers: each signs in with its fixed code, no message is sent
    #[command(subcommand, name = "test-number")]
    TestNumber(TestNumberCommand),
    /// Delete a client; its apps can no longer get or refresh tokens
    Delete {
        /// The client_id
        client_id: String,
        /// Print {"client_id","deleted"} as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TestNumberCommand {
    /// Register a test number (again: a new code)
    #[command(
        after_help = "Example:\n  tcauth client test-number add 0123456789abcdefghijklmn +919876543210 --otp 123456"
    )]
    Add {
        /// The client_id
        client_id: String,
        /// The number, international (e.g. +919876543210)
        phone_number: String,
        /// Its fixed one-time code, exactly 6 digits
        #[arg(long, default_value = tcauth_core::validate::DEFAULT_TEST_OTP)]
        otp: String,
        /// Print the test number as JSON
        #[arg(long)]
        json: bool,
    },
    /// List a client's test numbers
    List {
        /// The client_id
        client_id: String,
        /// Print {"test_numbers":[…]} as JSON (the admin API's shape)
        #[arg(long)]
        json: bool,
    },
    /// Remove a test number
    Remove {
        /// The client_id
        client_id: String,
        /// The number, international (e.g. +919876543210)
        phone_number: String,
        /// Print {"client_id","phone_number","removed"} as JSON
        #[arg(long)]
        json: bool,
    },
}

const CREATE_EXAMPLES: &str = "Examples:
  tcauth client create --name 'Shop' --redirect-uri https://shop.example/callback \\
      --scope 'openid phone profile'
  tcauth client create --name 'Shop app' --redirect-uri com.example.shop:/oauth \\
      --scope openid,phone,offline_access --grant-type authorization_code \\
      --grant-type refresh_token --rate-limit-per-second 50 --rate-limit-burst 100 --json
  tcauth client create --name 'Shop web' --redirect-uri https://shop.example/callback \\
      --scope 'openid phone profile' --callback-url https://shop.example/tc/callback \\
      --package-name com.example.shop";

const UPDATE_EXAMPLES: &str = "Examples:
  tcauth client update 0123456789abcdefghijklmn --name 'Shop' --rate-limit-per-second 20 \\
      --rate-limit-burst 40
  tcauth client update 0123456789abcdefghijklmn --callback-url https://shop.example/tc/callback \\
      --package-name com.example.shop --json
  tcauth client update 0123456789abcdefghijklmn --no-rate-limit --no-callback-url";

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
    /// Where the Mobile Websites flow POSTs its result: https, or http on a loopback host
    /// (its signing secret is printed once)
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// The Android package name of the app (SDK v2.8 signed profiles), e.g. com.example.app
    #[arg(long, value_name = "NAME")]
    pub package_name: Option<String>,
    /// test: signs in only its registered test numbers, with their fixed codes (see
    /// `tcauth client test-number`); live (the default): every number
    #[arg(long, value_name = "test|live")]
    pub mode: Option<String>,
    /// Print the new client as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client_id
    pub client_id: String,
    /// New name shown to users on the consent page
    #[arg(long)]
    pub name: Option<String>,
    /// Replaces every redirect URI (repeatable)
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Replaces the scopes (repeatable, or separated by spaces or commas)
    #[arg(long = "scope", visible_alias = "scopes", value_name = "SCOPES")]
    pub scopes: Vec<String>,
    /// Replaces the grants (repeatable, or comma separated)
    #[arg(
        long = "grant-type",
        visible_alias = "grant-types",
        value_name = "GRANT"
    )]
    pub grant_types: Vec<String>,
    /// The client's own rate limit, in requests per second (with --rate-limit-burst)
    #[arg(long, value_name = "N", requires = "rate_limit_burst")]
    pub rate_limit_per_second: Option<u32>,
    /// The client's own burst size (with --rate-limit-per-second)
    #[arg(long, value_name = "N", requires = "rate_limit_per_second")]
    pub rate_limit_burst: Option<u32>,
    /// Back to the server's default rate limit
    #[arg(long, conflicts_with_all = ["rate_limit_per_second", "rate_limit_burst"])]
    pub no_rate_limit: bool,
    /// Sets the callback URL (and makes a new signing secret, printed once)
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Removes the callback URL (and its secret)
    #[arg(long, conflicts_with = "callback_url")]
    pub no_callback_url: bool,
    /// Sets the Android package name
    #[arg(long, value_name = "NAME")]
    pub package_name: Option<String>,
    /// Removes the package name
    #[arg(long, conflicts_with = "package_name")]
    pub no_package_name: bool,
    /// Print the client as JSON
    #[arg(long)]
    pub json: bool,
}

/// Some(None) for --no-X, Some(Some(v)) for --X v, None for neither.
fn set_or_clear<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
    if clear {
        Some(None)
    } else {
        value.map(Some)
    }
}

impl UpdateArgs {
    fn patch(&self) -> ClientPatch {
        let list = |v: &[String], split: bool| {
            (!v.is_empty()).then(|| if split { split_list(v) } else { v.to_vec() })
        };
        let rate_limit = match (self.rate_limit_per_second, self.rate_limit_burst) {
            (Some(per_second), Some(burst)) => Some(RateLimit { per_second, burst }),
            _ => None,
        };
        ClientPatch {
            name: self.name.clone(),
            redirect_uris: list(&self.redirect_uris, false),
            scopes: list(&self.scopes, true),
            grant_types: list(&self.grant_types, true),
            rate_limit: set_or_clear(rate_limit, self.no_rate_limit),
            callback_url: set_or_clear(self.callback_url.clone(), self.no_callback_url),
            package_name: set_or_clear(self.package_name.clone(), self.no_package_name),
        }
    }
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
                "{:<24}  {:<32}  {:<4}  {:<20}  {:<30}  NAME",
                "CLIENT_ID", "APP_KEY", "MODE", "CREATED", "SCOPES"
            );
            for c in &clients {
                let scopes = c.scopes.names().join(" ");
                let created = timestamp(c.created_at);
                println!(
                    "{:<24}  {:<32}  {:<4}  {created:<20}  {scopes:<30}  {}",
                    c.client_id,
                    c.app_key,
                    c.mode.as_str(),
                    c.name
                );
            }
            Ok(())
        }
        ClientCommand::Show { client_id, json } => {
            let store = ctx.open().await?;
            show(store.as_ref(), &client_id, json).await
        }
        ClientCommand::Update(a) => update(&ctx, a).await,
        ClientCommand::Deliveries {
            client_id,
            limit,
            json,
        } => deliveries(&ctx, &client_id, limit.into(), json).await,
        ClientCommand::Brand(a) => brand(&ctx, a).await,
        ClientCommand::Live { client_id, json } => {
            let store = ctx.open().await?;
            store
                .set_client_live(&client_id, tcauth_server::now_ms() as i64)
                .await
                .map_err(store_error)?;
            show(store.as_ref(), &client_id, json).await
        }
        ClientCommand::TestNumber(c) => test_number(&ctx, c).await,
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

async fn test_number(ctx: &Context, c: TestNumberCommand) -> Result<()> {
    use tcauth_server::admin::clients::test_number_json;
    match c {
        TestNumberCommand::Add {
            client_id,
            phone_number,
            otp,
            json,
        } => {
            let t = tcauth_core::validate::NewTestNumber {
                phone_number,
                otp: Some(otp),
            }
            .validate(&client_id, now())
            .map_err(|e| usage(e.to_string()))?;
            let store = ctx.open().await?;
            if !store.put_test_number(&t).await.map_err(store_error)? {
                return Err(not_found(&client_id));
            }
            if json {
                print_json(&test_number_json(&t))
            } else {
                println!(
                    "test number {} of client {client_id}: code {}",
                    t.phone_e164, t.otp
                );
                Ok(())
            }
        }
        TestNumberCommand::List { client_id, json } => {
            let store = ctx.open().await?;
            if store
                .get_client(&client_id)
                .await
                .map_err(store_error)?
                .is_none()
            {
                return Err(not_found(&client_id));
            }
            let all = store
                .list_test_numbers(&client_id)
                .await
                .map_err(store_error)?;
            if json {
                let v: Vec<_> = all.iter().map(test_number_json).collect();
                return print_json(&serde_json::json!({ "test_numbers": v }));
            }
            if all.is_empty() {
                eprintln!(
                    "no test numbers yet; add one with `tcauth client test-number add {client_id} <number>`"
                );
                return Ok(());
            }
            println!("{:<16}  {:<6}  ADDED", "PHONE_NUMBER", "OTP");
            for t in &all {
                println!(
                    "{:<16}  {:<6}  {}",
                    t.phone_e164,
                    t.otp,
                    timestamp(t.created_at)
                );
            }
            Ok(())
        }
        TestNumberCommand::Remove {
            client_id,
            phone_number,
            json,
        } => {
            let p = tcauth_core::phone::parse(&phone_number, None)
                .map_err(|e| usage(format!("phone_number: {e}")))?;
            let store = ctx.open().await?;
            if store
                .get_client(&client_id)
                .await
                .map_err(store_error)?
                .is_none()
            {
                return Err(not_found(&client_id));
            }
            if !store
                .delete_test_number(&client_id, &p.e164)
                .await
                .map_err(store_error)?
            {
                return Err(anyhow!(
                    "client {client_id} has no test number {}; `tcauth client test-number list {client_id}` shows them",
                    p.e164
                ));
            }
            if json {
                print_json(&serde_json::json!({
                    "client_id": client_id, "phone_number": p.e164, "removed": true
                }))
            } else {
                println!("removed test number {} of client {client_id}", p.e164);
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

/// Prints the client as `client show` does (`--json`: the admin API's view).
async fn show(store: &dyn tcauth_store::Store, client_id: &str, json: bool) -> Result<()> {
    let client = store
        .get_client(client_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(client_id))?;
    if json {
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
        callback_url: a.callback_url,
        package_name: a.package_name,
        mode: a.mode,
    };
    let mut client = new
        .validate(new_client_id(), now())
        .map_err(|e| usage(e.to_string()))?;
    client.updated_at_ms = client.updated_at_ms.max(tcauth_server::now_ms() as i64);
    // The secret first: a store opened for nothing is no harm, a client whose secret cannot
    // be shown is.
    let secret = callback_secret(ctx, &client, client.callback_url.is_some())?;
    let store = ctx.open().await?;
    store.create_client(&client).await.map_err(store_error)?;
    show_client(&client, secret, a.json)
}

/// The client's callback signing secret when `set` (the command set `callback_url`).
fn callback_secret(ctx: &Context, client: &Client, set: bool) -> Result<Option<String>> {
    match (&client.callback_salt, set) {
        (Some(salt), true) => {
            let (server, _) = ctx.secret()?;
            Ok(Some(tcauth_server::callbacks::secret(&server, salt)))
        }
        _ => Ok(None),
    }
}

/// Prints a client, with its callback secret when it was just made (once: it is not stored).
fn show_client(client: &Client, secret: Option<String>, json: bool) -> Result<()> {
    if json {
        return print_json(&ClientView::from(client).with_secret(secret));
    }
    print!("{}", client_text(client));
    if let Some(s) = secret {
        println!("callback_secret: {s}");
        println!(
            "  (keys the X-Tcauth-Signature of every callback; shown only now: store it in \
             the app's backend)"
        );
    }
    Ok(())
}

async fn update(ctx: &Context, a: UpdateArgs) -> Result<()> {
    let patch = a.patch();
    let empty = patch.name.is_none()
        && patch.redirect_uris.is_none()
        && patch.scopes.is_none()
        && patch.grant_types.is_none()
        && patch.rate_limit.is_none()
        && patch.callback_url.is_none()
        && patch.package_name.is_none();
    if empty {
        return Err(usage(
            "nothing to change: give at least one option (see `tcauth client update --help`)",
        ));
    }
    let store = ctx.open().await?;
    let mut client = store
        .get_client(&a.client_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&a.client_id))?;
    let set = patch
        .apply(&mut client, tcauth_server::now_ms() as i64)
        .map_err(|e| usage(e.to_string()))?;
    let secret = callback_secret(ctx, &client, set)?;
    if !store.update_client(&client).await.map_err(store_error)? {
        return Err(not_found(&a.client_id));
    }
    show_client(&client, secret, a.json)
}

async fn deliveries(ctx: &Context, client_id: &str, limit: usize, json: bool) -> Result<()> {
    let store = ctx.open().await?;
    if store
        .get_client(client_id)
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Err(not_found(client_id));
    }
    let all = store
        .list_deliveries(client_id, limit)
        .await
        .map_err(store_error)?;
    if json {
        let v: Vec<_> = all
            .iter()
            .map(tcauth_server::admin::clients::delivery_json)
            .collect();
        return print_json(&serde_json::json!({ "deliveries": v }));
    }
    if all.is_empty() {
        eprintln!("no deliveries for this client yet");
        return Ok(());
    }
    println!(
        "{:<32}  {:<9}  {:>8}  {:<20}  {:<24}  LAST_ERROR",
        "ID", "STATUS", "ATTEMPTS", "CREATED", "REQUEST_ID"
    );
    for d in &all {
        let request_id: String = d.request_id.chars().take(24).collect();
        println!(
            "{:<32}  {:<9}  {:>8}  {:<20}  {request_id:<24}  {}",
            d.id,
            d.status.as_str(),
            d.attempts,
            timestamp(d.created_at),
            d.last_error.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
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
