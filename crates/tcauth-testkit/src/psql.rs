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
