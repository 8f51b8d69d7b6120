//! The options every store-touching command shares, and opening the store they name.

use crate::config::{FileConfig, DEFAULT_DATA_DIR};
use crate::errors::{store_error, usage};
use crate::secret::{self, SecretSource};
use anyhow::Result;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tcauth_server::Secret;
use tcauth_store::{SqliteStore, Store};

/// File name of the embedded database inside the data dir.
pub const DB_FILE: &str = "tcauth.db";

/// Where the configuration and the data live. Global: accepted before or after a subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Configuration and store")]
pub struct StoreArgs {
    /// Configuration file [default: ./tcauth.toml when it exists]
    #[arg(long, env = "TCAUTH_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Directory for the SQLite database and the generated secret [default: ./tcauth-data]
    #[arg(long, env = "TCAUTH_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Database: sqlite://PATH [default: sqlite://<data-dir>/tcauth.db]
    #[arg(
        long,
        env = "TCAUTH_DATABASE_URL",
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

/// A database the binary knows how to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
        }
    }
}

/// Parses `--database-url`. Never echoes the URL back, as it may carry a password.
pub fn parse_database_url(url: &str) -> Result<Database> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Err(usage(
            "PostgreSQL support is not built yet; use sqlite://PATH, or leave --database-url \
             unset to use <data-dir>/tcauth.db",
        ));
    }
    let path = url
        .trim()
        .strip_prefix("sqlite://")
        .or_else(|| url.trim().strip_prefix("sqlite:"));
    match path {
        Some(p) if !p.is_empty() => Ok(Database::Sqlite(PathBuf::from(p))),
        Some(_) => Err(usage(
            "--database-url sqlite:// needs a path, e.g. sqlite:///var/lib/tcauth/tcauth.db",
        )),
        None => Err(usage(
            "--database-url must start with sqlite:// (e.g. sqlite:///var/lib/tcauth/tcauth.db)",
        )),
    }
}

/// The configuration file and the store location a command works with.
#[derive(Debug)]
pub struct Context {
    pub file: FileConfig,
    pub config_path: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub database: Database,
}

impl Context {
    /// Reads the config file and resolves the data dir and database: flag/env, else the file,
    /// else the default.
    pub fn load(args: &StoreArgs) -> Result<Context> {
        let (file, config_path) = FileConfig::load(args.config.as_deref())?;
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database = match args
            .database_url
            .as_deref()
            .or(file.database_url.as_deref())
        {
            Some(url) => parse_database_url(url)?,
            None => Database::Sqlite(data_dir.join(DB_FILE)),
        };
        Ok(Context {
            file,
            config_path,
            data_dir,
            database,
        })
    }

    /// Makes sure the database's directory exists: the data dir (mode 0700) or, for a database
    /// elsewhere, its parent directory.
    fn prepare(&self) -> Result<&Path> {
        let Database::Sqlite(path) = &self.database;
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) if parent == self.data_dir => secret::ensure_data_dir(&self.data_dir)?,
            Some(parent) if !parent.exists() => secret::ensure_data_dir(parent)?,
            _ => {}
        }
        Ok(path)
    }

    /// Opens (creating and migrating as needed) the store.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        let path = self.prepare()?.to_path_buf();
        let store = SqliteStore::open(&path).map_err(|e| {
            store_error(e).context(format!("cannot open the database {}", self.database))
        })?;
        Ok(Arc::new(store))
    }

    /// Applies pending migrations. Returns (version before, version after).
    pub fn migrate(&self) -> Result<(u32, u32)> {
        let path = self.prepare()?;
        SqliteStore::migrate(path).map_err(|e| {
            store_error(e).context(format!("cannot migrate the database {}", self.database))
        })
    }

    /// The server secret (see [`crate::secret`]).
    pub fn secret(&self) -> Result<(Secret, SecretSource)> {
        secret::obtain(self.file.secret.as_deref(), &self.data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::exit_code;

    #[test]
    fn database_urls() {
        assert_eq!(
            parse_database_url("sqlite:///var/lib/t.db").unwrap(),
            Database::Sqlite("/var/lib/t.db".into())
        );
        assert_eq!(
            parse_database_url("sqlite://rel/t.db").unwrap(),
            Database::Sqlite("rel/t.db".into())
        );
        let e = parse_database_url("postgres://u:pw@h/db").unwrap_err();
        assert!(e
            .to_string()
            .contains("PostgreSQL support is not built yet"));
        assert!(!e.to_string().contains("pw"));
        assert_eq!(exit_code(&e), 2);
        assert!(parse_database_url("mysql://x").is_err());
        assert!(parse_database_url("sqlite://").is_err());
    }
}
