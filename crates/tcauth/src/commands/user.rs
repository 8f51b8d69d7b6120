//! `tcauth user …`: the people who sign in, known by their phone numbers.

use crate::errors::{store_error, usage};
use crate::import::{self, ImportArgs};
use crate::output::{now, print_json, timestamp, user_text, UserView};
use crate::store::{Context, StoreArgs};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use tcauth_core::model::{Address, User, UserStatus};
use tcauth_core::phone;
use tcauth_core::validate::{new_sub, NewUser};
use tcauth_store::StoreError;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user and print their sub (the stable user id in tokens)
    ///
    /// The number counts as verified: the operator vouches for it.
    #[command(after_help = "Examples:
  tcauth user add --phone +919876543210
  tcauth user add --phone '+91 98765 43210' --given-name Asha --family-name Rao \\
      --email asha@example.com --locality Bengaluru --postal-code 560001 --country IN --json")]
    Add(Box<AddArgs>),
    /// Show a user, found by sub or by phone number
    #[command(after_help = "Examples:
  tcauth user show 4503599627370495
  tcauth user show +919876543210 --json")]
    Show(ShowArgs),
    /// List users a page at a time, in ascending sub order
    ///
    /// Prints at most --limit users; when there are more, the last line (or `next` with
    /// --json) is the cursor to pass as --after for the following page.
    #[command(after_help = "Examples:
  tcauth user list
  tcauth user list --limit 50 --after 4503599627370495
  tcauth user list --json")]
    List(ListArgs),
    /// Delete a user's profile for good; their tokens stop working at userinfo
    Delete(SubArgs),
    /// Block a user: they can no longer sign in and userinfo answers 404 for them
    Block(SubArgs),
    /// Unblock a blocked user
    Unblock(SubArgs),
    /// Import users from a CSV file, all or nothing
    ///
    /// The first line names the columns (any order, any case): phone_number (required),
    /// given_name, family_name, email, picture, gender, street_address, locality, region,
    /// postal_code, country. Every row is checked first, including numbers repeated in the file
    /// and numbers already registered; if any row is bad, every problem is listed and nothing
    /// is imported, unless --skip-invalid is given. Limits: 100 MiB, 1,000,000 rows, 2048
    /// bytes per field.
    #[command(after_help = "Example:
  $ cat users.csv
  phone_number,given_name,family_name,email
  +919876543210,Asha,Rao,asha@example.com
  +14155550123,Sam,,
  $ tcauth user import users.csv
  imported 2 users, skipped 0 invalid rows")]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct SubArgs {
    /// The user's sub, as printed by `user add`
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub sub: i64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The user's sub, or their phone number in international form (+919876543210)
    pub user: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Users per page
    #[arg(long, default_value_t = tcauth_server::admin::users::LIST_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(tcauth_server::admin::users::LIST_MAX)))]
    pub limit: u32,
    /// Start after this cursor: the `next` of the previous page (a sub)
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub after: Option<i64>,
    /// Print JSON: {"users":[…],"next":"<cursor>"|null}, as GET /admin/v1/users
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Phone number in international form, e.g. +919876543210
    #[arg(long)]
    pub phone: String,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub family_name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// https URL of a profile picture
    #[arg(long)]
    pub picture: Option<String>,
    #[arg(long)]
    pub gender: Option<String>,
    #[arg(long)]
    pub street_address: Option<String>,
    #[arg(long)]
    pub locality: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub postal_code: Option<String>,
    #[arg(long)]
    pub country: Option<String>,
    /// Print the new user as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: UserArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    match args.command {
        UserCommand::Add(a) => add(&ctx, *a).await,
        UserCommand::Import(a) => import::run(&ctx, a).await,
        UserCommand::List(a) => list(&ctx, a).await,
        UserCommand::Show(ShowArgs { user, json }) => {
            let which = Which::parse(&user)?;
            let store = ctx.open().await?;
            let user = match &which {
                Which::Sub(sub) => store.get_user(*sub).await,
                Which::Phone(e164) => store.get_user_by_phone(e164).await,
            }
            .map_err(store_error)?
            .ok_or_else(|| match &which {
                Which::Sub(sub) => not_found(*sub),
                Which::Phone(e164) => anyhow!("no user with phone number {e164}"),
            })?;
            if json {
                print_json(&UserView::from(&user))
            } else {
                print!("{}", user_text(&user));
                Ok(())
            }
        }
        UserCommand::Delete(SubArgs { sub, json }) => {
            let store = ctx.open().await?;
            if !store.delete_user(sub).await.map_err(store_error)? {
                return Err(not_found(sub));
            }
            if json {
                print_json(&serde_json::json!({ "sub": sub.to_string(), "deleted": true }))
            } else {
                println!("deleted user {sub}");
                Ok(())
            }
        }
        UserCommand::Block(a) => set_status(&ctx, a, UserStatus::Blocked).await,
        UserCommand::Unblock(a) => set_status(&ctx, a, UserStatus::Active).await,
    }
}

/// How `user show` names a user: a sub (digits, not starting with 0) or a phone number.
enum Which {
    Sub(i64),
    Phone(String),
}

impl Which {
    fn parse(s: &str) -> Result<Which> {
        let s = s.trim();
        // Digits only (`parse` alone would take `+919876543210` for a sub).
        if !s.starts_with('0') && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(sub) = s.parse::<i64>() {
                if sub > 0 {
                    return Ok(Which::Sub(sub));
                }
            }
        }
        phone::parse(s, None)
            .map(|p| Which::Phone(p.e164))
            .map_err(|e| {
                usage(format!(
                    "{s:?} is neither a sub nor a phone number: as a phone number it is {e}"
                ))
            })
    }
}

async fn list(ctx: &Context, a: ListArgs) -> Result<()> {
    let store = ctx.open().await?;
    // One more than asked: whether there is a next page.
    let mut page = store
        .list_users(a.after, a.limit + 1)
        .await
        .map_err(store_error)?;
    let more = page.len() > a.limit as usize;
    page.truncate(a.limit as usize);
    let next = page.last().filter(|_| more).map(|u| u.sub.to_string());
    if a.json {
        let users: Vec<UserView> = page.iter().map(UserView::from).collect();
        return print_json(&serde_json::json!({ "users": users, "next": next }));
    }
    if page.is_empty() {
        if a.after.is_some() {
            eprintln!("no users after {}", a.after.unwrap_or_default());
        } else {
            eprintln!("no users yet; add one with `tcauth user add`");
        }
        return Ok(());
    }
    println!(
        "{:<16}  {:<16}  {:<7}  {:<20}  NAME",
        "SUB", "PHONE_NUMBER", "STATUS", "CREATED"
    );
    for u in &page {
        println!(
            "{:<16}  {:<16}  {:<7}  {:<20}  {}",
            u.sub,
            u.phone_e164,
            u.status.as_str(),
            timestamp(u.created_at),
            name(u)
        );
    }
    if let Some(next) = next {
        println!("more: tcauth user list --limit {} --after {next}", a.limit);
    }
    Ok(())
}

fn name(u: &User) -> String {
    [u.given_name.as_deref(), u.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn not_found(sub: i64) -> anyhow::Error {
    anyhow!("no user with sub {sub}")
}

async fn set_status(ctx: &Context, a: SubArgs, status: UserStatus) -> Result<()> {
    let store = ctx.open().await?;
    if !store
        .set_user_status(a.sub, status)
        .await
        .map_err(store_error)?
    {
        return Err(not_found(a.sub));
    }
    if a.json {
        print_json(&serde_json::json!({ "sub": a.sub.to_string(), "status": status.as_str() }))
    } else {
        let verb = match status {
            UserStatus::Blocked => "blocked",
            UserStatus::Active => "unblocked",
        };
        println!("{verb} user {}", a.sub);
        Ok(())
    }
}

async fn add(ctx: &Context, a: AddArgs) -> Result<()> {
    let address = Address {
        street_address: a.street_address,
        locality: a.locality,
        region: a.region,
        postal_code: a.postal_code,
        country: a.country,
    };
    let new = NewUser {
        phone_number: a.phone,
        given_name: a.given_name,
        family_name: a.family_name,
        email: a.email,
        picture: a.picture,
        gender: a.gender,
        address: (!address.is_empty()).then_some(address),
    };
    let user = new
        .validate(new_sub(), now())
        .map_err(|e| usage(e.to_string().replacen("address.", "", 1)))?;
    let store = ctx.open().await?;
    match store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let existing = store
                .get_user_by_phone(&user.phone_e164)
                .await
                .map_err(store_error)?;
            return Err(match existing {
                Some(u) => anyhow!(
                    "phone_number: {} is already registered to user {}",
                    user.phone_e164,
                    u.sub
                ),
                None => anyhow!("user {} already exists; run the command again", user.sub),
            });
        }
        Err(e) => return Err(store_error(e)),
    }
    if a.json {
        print_json(&UserView::from(&user))
    } else {
        println!("{}", user.sub);
        Ok(())
    }
}
