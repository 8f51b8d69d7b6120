//! `tcauth serve`: the OAuth 2.0 / OpenID Connect server.

use crate::config::{settings, ServeOverrides};
use crate::errors::usage;
use crate::secret::SecretSource;
use crate::store::{Context, StoreArgs};
use anyhow::{Context as _, Result};
use clap::Args;
use std::net::SocketAddr;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "TCAUTH_LISTEN", value_name = "ADDR", value_parser = crate::config::parse_listen)]
    pub listen: Option<SocketAddr>,

    /// Public base URL, the `iss` of tokens, without a trailing slash [default: http://<listen>]
    #[arg(long, env = "TCAUTH_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// Redis for the counters all nodes share (rate limits, one-time-code send limits):
    /// redis://[USER:PASSWORD@]HOST[:PORT][/DB] [default: kept per process]
    #[arg(
        long,
        env = "TCAUTH_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let ctx = Context::load(&args.store)?;
    if let Some(path) = &ctx.config_path {
        tracing::info!("configuration from {}", path.display());
    }
    let admin_token = match std::env::var("TCAUTH_ADMIN_TOKEN") {
        Ok(t) if !t.is_empty() => Some(t),
        Ok(_) | Err(std::env::VarError::NotPresent) => ctx.file.admin_token.clone(),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(usage("TCAUTH_ADMIN_TOKEN is not valid UTF-8"))
        }
    };
    let (secret, source) = ctx.secret()?;
    // A start that fails before serving leaves no secret it generated behind.
    let generated = match &source {
        SecretSource::File(path, true) => Some(path.clone()),
        _ => None,
    };
    let started = start(
        &ctx,
        args.listen,
        args.issuer,
        args.redis_url,
        admin_token,
        secret,
    )
    .await;
    let (settings, store, listener) = match started {
        Ok(s) => s,
        Err(e) => {
            if let Some(path) = generated {
                if let Err(rm) = std::fs::remove_file(&path) {
                    tracing::warn!(
                        "cannot remove the secret generated at {}: {rm}",
                        path.display()
                    );
                }
            }
            return Err(e);
        }
    };
    let local = listener.local_addr().unwrap_or(settings.listen);
    tracing::info!(
        "tcauth {} listening on http://{local}, issuer {}, store {}, secret from {source}, admin API {}",
        env!("CARGO_PKG_VERSION"),
        settings.issuer,
        ctx.database,
        if settings.admin_token.is_some() { "on" } else { "off (no TCAUTH_ADMIN_TOKEN)" },
    );
    tcauth_server::serve(listener, settings, store, shutdown_signal())
        .await
        .context("the server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// Validates the settings, opens the store and binds the listener.
async fn start(
    ctx: &Context,
    listen: Option<SocketAddr>,
    issuer: Option<String>,
    redis_url: Option<String>,
    admin_token: Option<String>,
    secret: tcauth_server::Secret,
) -> Result<(
    tcauth_server::Settings,
    std::sync::Arc<dyn tcauth_store::Store>,
    tokio::net::TcpListener,
)> {
    let overrides = ServeOverrides {
        listen,
        issuer,
        otp_webhook_url: env_var("TCAUTH_OTP_WEBHOOK_URL")?,
        otp_webhook_secret: env_var("TCAUTH_OTP_WEBHOOK_SECRET")?
            .map(|s| tcauth_server::Secret(s.into_bytes())),
        redis_url,
    };
    let settings = settings(&ctx.file, &overrides, secret, admin_token)?;
    if settings.listen.ip().is_unspecified() && settings.issuer.contains("://0.0.0.0") {
        tracing::warn!(
            "the issuer {} is not an address clients can reach; set --issuer / TCAUTH_ISSUER \
             to the public URL",
            settings.issuer
        );
    }
    let store = ctx.open().await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another process using that port? Choose another with \
                 --listen",
                settings.listen
            )
        })?;
    Ok((settings, store, listener))
}

/// A non-empty environment variable, or `None`.
fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(usage(format!("{name} is not valid UTF-8"))),
    }
}

/// Resolves on the first SIGINT or SIGTERM; a second one ends the process at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("shutting down: finishing requests in flight (signal again to stop now)");
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("stopping now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            None
        }
    };
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let int = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = int => {}
        () = term => {}
    }
}
