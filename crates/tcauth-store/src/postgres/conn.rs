//! Connection settings and the pool.
//!
//! Every pooled connection is set up the same way: `application_name=tcauth` (unless the URL
//! names one), the connect timeout of [`PgOptions`] (unless the URL sets `connect_timeout`),
//! TCP keepalives after 30 s idle (so a peer that vanished is noticed on idle connections
//! too), and, once connected, `statement_timeout` and `idle_in_transaction_session_timeout`
//! from [`PgOptions`] (a `SET` each, which also works through PgBouncer in session mode).

use super::error::{map_err, map_pool_err, with_context};
use super::PgOptions;
use crate::StoreError;
use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Timeouts,
};
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

/// tokio-postgres's default keepalive idle time: the URL did not choose one.
const DEFAULT_KEEPALIVES_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// Parses a `postgres://…` URL (or a `key=value` connection string) as users give it.
pub(crate) fn parse(url: &str, opts: &PgOptions) -> Result<Config, StoreError> {
    let mut cfg: Config = url.parse().map_err(|e: tokio_postgres::Error| {
        StoreError::Internal(format!(
            "invalid PostgreSQL URL: {}",
            super::error::describe(&e)
        ))
    })?;
    if matches!(cfg.get_ssl_mode(), SslMode::Require) {
        return Err(StoreError::Internal(
            "sslmode=require is not supported: tcauth connects to PostgreSQL without TLS. Put \
             a TLS-terminating proxy on the node (or a private network) between tcauth and the \
             database, and connect with sslmode=disable or prefer"
                .into(),
        ));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("tcauth");
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(opts.connect_timeout);
    }
    if cfg.get_keepalives_idle() == DEFAULT_KEEPALIVES_IDLE {
        cfg.keepalives_idle(Duration::from_secs(30));
    }
    Ok(cfg)
}

/// `host:port/dbname` for messages (never the user or the password).
pub(crate) fn target(cfg: &Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = cfg
                .get_ports()
                .get(i)
                .or_else(|| cfg.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(",")
    };
    format!(
        "{hosts}/{}",
        cfg.get_dbname().unwrap_or("(default database)")
    )
}

/// One connection outside the pool (for migrations), its I/O driven by a spawned task.
pub(crate) async fn connect_one(
    cfg: &Config,
    opts: &PgOptions,
    target: &str,
) -> Result<Client, StoreError> {
    let context = || format!("cannot connect to PostgreSQL at {target}");
    let connecting = cfg.connect(NoTls);
    let (client, connection) = match tokio::time::timeout(opts.connect_timeout, connecting).await {
        Ok(r) => r.map_err(|e| with_context(map_err(e), &context()))?,
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "{}: no answer within {:?}",
                context(),
                opts.connect_timeout
            )))
        }
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL migration connection ended");
        }
    });
    Ok(client)
}

fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// The pool: lazy (connections are made when needed, up to `max_connections`), a closed
/// connection is dropped when next taken out, and a new one is made — so the pool recovers
/// by itself when the database comes back.
pub(crate) fn pool(cfg: Config, opts: &PgOptions) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut session = String::new();
    if !opts.statement_timeout.is_zero() {
        let ms = millis(opts.statement_timeout);
        session = format!(
            "SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms};"
        );
    }
    let mut builder = Pool::builder(manager)
        .max_size(opts.max_connections.max(1))
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(opts.wait_timeout),
            create: Some(opts.connect_timeout),
            recycle: Some(opts.connect_timeout),
        });
    if !session.is_empty() {
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            let session = session.clone();
            Box::pin(async move {
                client
                    .batch_execute(&session)
                    .await
                    .map_err(HookError::Backend)
            })
        }));
    }
    builder
        .build()
        .map_err(|e| StoreError::Internal(format!("cannot build the PostgreSQL pool: {e}")))
}

/// A connection from the pool.
pub(crate) async fn get(pool: &Pool, target: &str) -> Result<Object, StoreError> {
    pool.get().await.map_err(|e| map_pool_err(e, target))
}
