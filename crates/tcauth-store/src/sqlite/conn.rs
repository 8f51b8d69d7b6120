//! Opening connections: file creation with safe permissions, and the pragmas every
//! connection runs with.

use super::error::{io_err, SqlResultExt};
use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// How long a connection waits on another's lock before giving up with `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The one read-write connection (the writer thread's, or a migration's).
    Writer,
    /// A read-only connection of the read pool.
    Reader,
}

/// Creates the parent directory (mode 0700 on unix) and the database file (mode 0600 on unix)
/// if they are missing, so that SQLite never creates the file with the process umask. An
/// existing file is left as it is.
pub(crate) fn create_file(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(parent)
                .map_err(|e| io_err("cannot create directory", parent, e))?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .map_err(|e| io_err("cannot open database file", path, e))?;
    Ok(())
}

/// Opens a connection to an existing database file (see [`create_file`]) and applies the
/// pragmas: WAL journal, `synchronous=FULL` (a commit is durable when it returns),
/// foreign keys on, a busy timeout, and for the writer, temporary data in memory.
pub(crate) fn open(path: &Path, role: Role) -> Result<Connection, StoreError> {
    let flags = match role {
        Role::Writer => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Role::Reader => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "cannot use write-ahead logging on {} (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL").db()?;
    conn.pragma_update(None, "foreign_keys", "ON").db()?;
    if role == Role::Writer {
        // The writer runs each command of a batch in a savepoint. Past 64 KiB a savepoint's
        // journal spills to a temporary file: a file created and deleted for many batches, and
        // a write for every page it keeps. A batch is bounded (256 commands, each a few pages;
        // an import goes 500 users at a time), so memory is the better home.
        conn.pragma_update(None, "temp_store", "MEMORY").db()?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_keeps_savepoint_journals_in_memory_and_commits_durably() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        create_file(&path).unwrap();
        let pragma = |c: &Connection, name: &str| -> i64 {
            c.pragma_query_value(None, name, |r| r.get(0)).unwrap()
        };
        let w = open(&path, Role::Writer).unwrap();
        assert_eq!(pragma(&w, "temp_store"), 2, "MEMORY");
        assert_eq!(pragma(&w, "synchronous"), 2, "FULL");
        let r = open(&path, Role::Reader).unwrap();
        assert_eq!(pragma(&r, "temp_store"), 0, "readers keep the default");
    }
}
