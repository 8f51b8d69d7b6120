//! SQL through the `psql` binary (Debian's `postgresql-client`), for what a test does to the
//! test database itself: creating and dropping the schema it works in.

use std::process::Command;

/// Runs `sql` against the database at `url` (`ON_ERROR_STOP`, quiet); panics with psql's
/// error when it fails, or when `psql` is not installed.
pub fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh schema in the test database, for one test: its tables are created by the store's
/// migrations when a store connects with [`Schema::url`]; dropped (with everything in it)
/// when the value is dropped.
pub struct Schema {
    base_url: String,
    pub name: String,
}

impl Schema {
    /// `CREATE SCHEMA <prefix>_<random>` in the database at `base_url`.
    pub fn create(base_url: &str, prefix: &str) -> Schema {
        let mut random = [0u8; 8];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        random[..8].copy_from_slice(
            &(now.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes(),
        );
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "{prefix}_{}_{seq}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        psql(base_url, &format!("CREATE SCHEMA {name}"));
        Schema {
            base_url: base_url.to_string(),
            name,
        }
    }

    /// The database URL the schema was made in.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The database URL with this schema as the `search_path`.
    pub fn url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.base_url, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(
            &self.base_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}
