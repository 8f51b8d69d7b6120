//! `tcauth`: run the server and administer it from the command line.
//!
//! This file holds the command tree and the dispatch; each command lives in `commands/`.
//! Errors travel as `anyhow::Error` and end here as `error: …` on stderr with exit status 1,
//! or 2 when the command line, the configuration or the input is malformed. With `--json`
//! anywhere on the command line, the error is one JSON object on stderr instead
//! (`{"error":"usage"|"failed","message":"…","hint":"…","exit_code":2}`; `hint` when the
//! error says what to do), clap's usage errors too.

mod commands;
mod config;
mod errors;
mod import;
mod output;
mod secret;
mod store;

use clap::{Parser, Subcommand};
use commands::client::ClientArgs;
use commands::keys::KeysArgs;
use commands::profile::ProfileArgs;
use commands::serve::ServeArgs;
use commands::user::UserArgs;
use commands::MigrateArgs;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

const ABOUT: &str = "tcauth: a self-hostable OAuth 2.0 / OpenID Connect server that signs users \
in with their phone numbers, speaking Truecaller's wire contract.";

const AFTER_HELP: &str = "Configuration, first found wins: flags, TCAUTH_* environment variables, \
tcauth.toml (see `tcauth config example`), built-in defaults. With none of them, tcauth keeps an \
SQLite database and a generated secret in ./tcauth-data and listens on 127.0.0.1:8080. Several \
nodes share one PostgreSQL database (--database-url postgres://…, with the same TCAUTH_SECRET on \
every node) and one Redis for their rate limits (--redis-url redis://…).

Environment: TCAUTH_LISTEN, TCAUTH_ISSUER, TCAUTH_DATA_DIR, TCAUTH_DATABASE_URL, TCAUTH_REDIS_URL, \
TCAUTH_CONFIG, TCAUTH_SECRET, TCAUTH_ADMIN_TOKEN, TCAUTH_LOG (a log filter such as info or debug).

Exit status: 0 done, 1 failed, 2 bad command line, configuration or input.

Examples, to get started:
  tcauth migrate
  tcauth client create --name Shop --redirect-uri https://shop.example/cb --scope 'openid phone'
  tcauth user add --phone +919876543210 --given-name Asha
  TCAUTH_ADMIN_TOKEN=$(openssl rand -hex 24) tcauth serve";

#[derive(Debug, Parser)]
#[command(name = "tcauth", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server
    ///
    /// Serves the OAuth/OIDC endpoints, the admin API (when TCAUTH_ADMIN_TOKEN is set), and
    /// /healthz, /readyz and /metrics. Creates and migrates the database, and generates the
    /// server secret and the first signing key, on first start. Stops gracefully on SIGINT or
    /// SIGTERM.
    #[command(after_help = "Examples:
  tcauth serve
  tcauth serve --listen 0.0.0.0:8080 --issuer https://auth.example.com --data-dir /var/lib/tcauth
  TCAUTH_LOG=debug TCAUTH_ADMIN_TOKEN=… tcauth serve --config /etc/tcauth.toml")]
    Serve(ServeArgs),

    /// Create the database or bring its schema up to date
    ///
    /// Every command does this on opening the store; run it on its own before upgrading a
    /// fleet, or to see the schema version.
    #[command(after_help = "Examples:
  tcauth migrate
  tcauth migrate --database-url sqlite:///var/lib/tcauth/tcauth.db --json")]
    Migrate(MigrateArgs),

    /// Register, list, show, change and delete client apps
    #[command(after_help = "Examples:
  tcauth client create --name Shop --redirect-uri https://shop.example/cb --scope 'openid phone'
  tcauth client list
  tcauth client show 0123456789abcdefghijklmn --json
  tcauth client update 0123456789abcdefghijklmn --callback-url https://shop.example/tc/callback
  tcauth client deliveries 0123456789abcdefghijklmn
  tcauth client delete 0123456789abcdefghijklmn")]
    Client(ClientArgs),

    /// Add, list, show, block, delete and import users
    #[command(after_help = "Examples:
  tcauth user add --phone +919876543210 --given-name Asha
  tcauth user show 4503599627370495
  tcauth user show +919876543210
  tcauth user list --limit 50
  tcauth user block 4503599627370495
  tcauth user import users.csv --skip-invalid")]
    User(UserArgs),

    /// Manage the id_token signing keys
    #[command(after_help = "Example:
  tcauth keys rotate")]
    Keys(KeysArgs),

    /// Sign user profiles for SDK v2.8 / iOS apps
    #[command(after_help = "Example:
  tcauth profile sign --app-key 5f2c…e1 --sub 4503599627370495 --request-nonce a1b2c3d4e5f6")]
    Profile(ProfileArgs),

    /// Help with tcauth.toml
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a commented tcauth.toml with every setting at its default
    #[command(after_help = "Example:
  tcauth config example > tcauth.toml")]
    Example,
}

/// How many tasks a runtime worker runs between two looks at the runtime's global queue.
const GLOBAL_QUEUE_INTERVAL: u32 = 2;

fn main() -> ExitCode {
    let json = errors::json_requested(std::env::args_os());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return errors::clap_error(e, json),
    };
    init_logging(matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Requests the store or the signing threads have finished with are woken from outside
        // the runtime, into its global queue, which a worker by default looks at only every
        // 61st task. Under overload those 61 are new requests to read and shed, and an
        // admitted request waited behind them at every wake-up; looking every other task
        // halves the p99 of what is admitted at 4x overload (BENCHMARKS.md).
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::anyhow!("cannot start the async runtime: {e}");
            return ExitCode::from(errors::report(&e, json));
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(errors::EXIT_OK),
        Err(e) => ExitCode::from(errors::report(&e, json)),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => commands::serve::run(a).await,
        Command::Migrate(a) => commands::migrate(a).await,
        Command::Client(a) => commands::client::run(a).await,
        Command::User(a) => commands::user::run(a).await,
        Command::Keys(a) => commands::keys::run(a).await,
        Command::Profile(a) => commands::profile::run(a).await,
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
    }
}

/// Logs go to stderr, filtered by `TCAUTH_LOG` (default `info` for `serve`, `warn` otherwise).
/// The administration commands log without timestamps, as their output is read by people.
fn init_logging(serve: bool) {
    let default = if serve { "info" } else { "warn" };
    let filter = match std::env::var("TCAUTH_LOG") {
        Ok(f) if !f.trim().is_empty() => EnvFilter::try_new(&f).unwrap_or_else(|e| {
            eprintln!("warning: TCAUTH_LOG={f:?} is not a valid log filter ({e}); using {default}");
            EnvFilter::new(default)
        }),
        _ => EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if serve {
        builder.init();
    } else {
        builder.without_time().with_target(false).init();
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
