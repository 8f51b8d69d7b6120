//! The options every store-touching command shares, and opening the store they name.

use crate::config::{FileConfig, DEFAULT_DATA_DIR};
use crate::errors::{store_error, usage};
use crate::secret::{self, SecretSource};
use anyhow::Result;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tcauth_server::Secret;
use tcauth_store::{PgOptions, PgStore, SqliteStore, Store, StoreError};

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

    /// Database: sqlite://PATH, or postgres://USER[:PASSWORD]@HOST[:PORT]/DB for several nodes
    /// (then TCAUTH_SECRET is required) [default: sqlite://<data-dir>/tcauth.db]
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
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` URL. It may carry a password: `Display` and `Debug` leave it out.
    Postgres(String),
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            Database::Postgres(url) => f.write_str(&redacted(url)),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({self})")
    }
}

/// A database URL without its password and query (which may hold one):
/// `postgres://user@host:5432/db`.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.trim().split_once("://").unwrap_or(("postgres", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match rest.rsplit_once('@') {
        Some((auth, host)) => {
            let user = auth.split(':').next().unwrap_or("");
            if user.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => format!("{scheme}://{rest}"),
    }
}

/// What to say when no secret is configured for a PostgreSQL database.
pub const POSTGRES_NEEDS_SECRET: &str = "with PostgreSQL, TCAUTH_SECRET (or `secret` in the \
config file) is required: all nodes must share one server secret, which seals the signing keys \
kept in the database and keys every HMAC, so tcauth does not generate one in this mode. Generate \
it once with `openssl rand -base64 32` and give the same value to every node (and to `tcauth \
keys rotate`)";

/// Parses `--database-url`. Never echoes the URL back, as it may carry a password.
pub fn parse_database_url(url: &str) -> Result<Database> {
    let lower = url.trim().to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("postgres://")
        .or_else(|| lower.strip_prefix("postgresql://"))
    {
        if rest.is_empty() || rest.starts_with(['/', '?']) && !rest.contains("host=") {
            return Err(usage(
                "--database-url postgres:// needs a host and a database, e.g. \
                 postgres://tcauth:PASSWORD@db.example:5432/tcauth",
            ));
        }
        // Without a database name PostgreSQL would connect to the user's default database
        // (`postgres`) and tcauth would migrate into it: refuse instead.
        let (path_and_host, query) = rest.split_once('?').unwrap_or((rest, ""));
        let host_and_path = path_and_host
            .rsplit_once('@')
            .map_or(path_and_host, |(_, h)| h);
        let db = host_and_path.split_once('/').map_or("", |(_, d)| d);
        let db_in_query = query
            .split('&')
            .any(|kv| kv.strip_prefix("dbname=").is_some_and(|v| !v.is_empty()));
        if db.is_empty() && !db_in_query {
            return Err(usage(
                "--database-url postgres:// names no database, so PostgreSQL would use the \
                 `postgres` database: add /DBNAME after the host, e.g. \
                 postgres://tcauth:PASSWORD@db.example:5432/tcauth",
            ));
        }
        return Ok(Database::Postgres(url.trim().to_string()));
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
            "--database-url must start with sqlite:// (e.g. sqlite:///var/lib/tcauth/tcauth.db) \
             or postgres:// (e.g. postgres://tcauth:PASSWORD@db.example:5432/tcauth)",
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
    /// No data dir was given (flag, env or config file): `./tcauth-data` by default.
    pub default_data_dir: bool,
}

impl Context {
    /// Reads the config file and resolves the data dir and database: flag/env, else the file,
    /// else the default.
    pub fn load(args: &StoreArgs) -> Result<Context> {
        let (file, config_path) = FileConfig::load(args.config.as_deref())?;
        let given = args.data_dir.clone().or_else(|| file.data_dir.clone());
        let default_data_dir = given.is_none();
        let data_dir = given.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database = match args
            .database_url
            .as_deref()
            .or(file.database_url.as_deref())
        {
            Some(url) => parse_database_url(url)?,
            None => Database::Sqlite(data_dir.join(DB_FILE)),
        };
        let ctx = Context {
            file,
            config_path,
            data_dir,
            database,
            default_data_dir,
        };
        ctx.warn_if_new_default_store();
        Ok(ctx)
    }

    /// Run from another directory, a command would make a new, empty `./tcauth-data` and work
    /// on that instead of the real store: say so, and how to name the real one. Not refused,
    /// as that is also how a first `tcauth migrate` or `tcauth serve` starts.
    fn warn_if_new_default_store(&self) {
        let in_data_dir =
            matches!(&self.database, Database::Sqlite(p) if p.starts_with(&self.data_dir));
        if self.default_data_dir && in_data_dir && !self.data_dir.exists() {
            let here = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".into());
            eprintln!(
                "warning: no {} in {here}: creating a new, empty store there. If your store is \
                 elsewhere, pass --data-dir DIR (or set TCAUTH_DATA_DIR, or --database-url)",
                self.data_dir.display()
            );
        }
    }

    /// Makes sure an SQLite database's directory exists: the data dir is created (mode 0700);
    /// the directory of a database elsewhere (`sqlite://PATH`) must exist already, since a
    /// missing one is more often a typo than a wish.
    fn prepare(path: &Path, data_dir: &Path) -> Result<()> {
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) if parent == data_dir => secret::ensure_data_dir(data_dir)?,
            Some(parent) if !parent.is_dir() => {
                return Err(usage(format!(
                    "the directory {} of --database-url sqlite://{} does not exist: create it \
                     (mkdir -p {}) or correct the path",
                    parent.display(),
                    path.display(),
                    parent.display()
                )))
            }
            _ => {}
        }
        Ok(())
    }

    /// The PostgreSQL pool's options: defaults, then `[postgres]` of the config file.
    pub fn pg_options(&self) -> PgOptions {
        let mut o = PgOptions::default();
        let Some(p) = self.file.postgres else {
            return o;
        };
        let ms = Duration::from_millis;
        if let Some(v) = p.max_connections {
            o.max_connections = v as usize;
        }
        if let Some(v) = p.connect_timeout_ms {
            o.connect_timeout = ms(v);
        }
        if let Some(v) = p.wait_timeout_ms {
            o.wait_timeout = ms(v);
        }
        if let Some(v) = p.statement_timeout_ms {
            o.statement_timeout = ms(v);
        }
        o
    }

    /// A store error on opening or migrating, with what to check.
    fn open_error(&self, doing: &str, e: StoreError) -> anyhow::Error {
        let e = match (&self.database, &e) {
            (Database::Postgres(_), StoreError::Unavailable(_)) => {
                anyhow::anyhow!("{e}; is PostgreSQL running and reachable at that host and port?")
            }
            (Database::Postgres(_), StoreError::Internal(_)) => anyhow::anyhow!(
                "{e}; check the URL's user, password and database, and that this tcauth is not \
                 older than the database's schema"
            ),
            _ => store_error(e),
        };
        e.context(format!("cannot {doing} the database {}", self.database))
    }

    /// Opens (creating and migrating as needed) the store.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        match &self.database {
            Database::Sqlite(path) => {
                Self::prepare(path, &self.data_dir)?;
                let store = SqliteStore::open(path).map_err(|e| self.open_error("open", e))?;
                Ok(Arc::new(store))
            }
            Database::Postgres(url) => {
                let store = PgStore::connect(url, self.pg_options())
                    .await
                    .map_err(|e| self.open_error("connect to", e))?;
                Ok(Arc::new(store))
            }
        }
    }

    /// Applies pending migrations. Returns (version before, version after).
    pub async fn migrate(&self) -> Result<(u32, u32)> {
        match &self.database {
            Database::Sqlite(path) => {
                Self::prepare(path, &self.data_dir)?;
                SqliteStore::migrate(path).map_err(|e| self.open_error("migrate", e))
            }
            Database::Postgres(url) => PgStore::migrate(url)
                .await
                .map_err(|e| self.open_error("migrate", e)),
        }
    }

    /// The server secret (see [`crate::secret`]). With PostgreSQL it must be configured: every
    /// node needs the same one, so none is generated.
    pub fn secret(&self) -> Result<(Secret, SecretSource)> {
        match &self.database {
            Database::Postgres(_) => secret::configured(self.file.secret.as_deref())?
                .ok_or_else(|| usage(POSTGRES_NEEDS_SECRET)),
            Database::Sqlite(_) => secret::obtain(self.file.secret.as_deref(), &self.data_dir),
        }
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
        let pg = parse_database_url("postgres://u:pw@h:5432/db?sslmode=disable").unwrap();
        assert_eq!(
            pg,
            Database::Postgres("postgres://u:pw@h:5432/db?sslmode=disable".into())
        );
        assert_eq!(pg.to_string(), "postgres://u@h:5432/db");
        assert!(!format!("{pg:?}").contains("pw"));
        assert!(matches!(
            parse_database_url("postgresql://h/db").unwrap(),
            Database::Postgres(_)
        ));
        let e = parse_database_url("postgres://").unwrap_err();
        assert_eq!(exit_code(&e), 2);
        let e = parse_database_url("mysql://u:pw@x").unwrap_err();
        assert!(!e.to_string().contains("pw"));
        assert_eq!(exit_code(&e), 2);
        assert!(parse_database_url("sqlite://").is_err());
        for no_db in [
            "postgres://h:5432",
            "postgres://h/",
            "postgres://u:p/w@h:5432",
            "postgresql://u@h/?sslmode=disable",
        ] {
            let e = parse_database_url(no_db).unwrap_err();
            assert_eq!(exit_code(&e), 2, "{no_db}");
            assert!(e.to_string().contains("add /DBNAME"), "{no_db}: {e}");
        }
        for ok in [
            "postgres://h/db",
            "postgres://h?dbname=db",
            "postgres:///db?host=/run/postgresql",
        ] {
            assert!(parse_database_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redacted("postgres://h/db"), "postgres://h/db");
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redacted("postgres://u:p@ss@h/db?password=x"),
            "postgres://u@h/db"
        );
        assert_eq!(redacted("postgresql://:p@h"), "postgresql://h");
    }
}
