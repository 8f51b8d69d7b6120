//! The schema migrations, listed once for both backends: each has a version, a name, and one
//! SQL file per backend, `migrations/sqlite/<name>.sql` and `migrations/postgres/<name>.sql`,
//! embedded in the binary. How a backend applies them and records its version is its own
//! (`sqlite/migrations.rs`: `PRAGMA user_version`; `postgres/migrations.rs`: the
//! `tcauth_schema` table under an advisory lock).

pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// `migrations/sqlite/<name>.sql`.
    pub sqlite: &'static str,
    /// `migrations/postgres/<name>.sql`.
    pub postgres: &'static str,
}

/// One entry of [`MIGRATIONS`]: both backends' SQL files of the migration `$name`. A
/// migration without the file of one backend does not compile.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

/// Every migration, in order; `version` is the position in this list, counting from 1.
pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_init"),
    migration!(2, "0002_otp"),
    migration!(3, "0003_client_branding"),
    migration!(4, "0004_finished_interactions"),
    migration!(5, "0005_mobile_websites"),
    migration!(6, "0006_test_mode"),
];

/// The schema version this build migrates to.
pub(crate) const LATEST: u32 = MIGRATIONS.len() as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
        assert_eq!(LATEST as usize, MIGRATIONS.len());
    }

    #[test]
    fn both_backends_migrate_to_the_latest_version() {
        assert_eq!(crate::SqliteStore::SCHEMA_VERSION, LATEST);
        assert_eq!(crate::PgStore::SCHEMA_VERSION, LATEST);
    }

    #[test]
    fn every_migration_has_sql_for_both_backends() {
        for m in MIGRATIONS {
            assert!(
                !m.sqlite.trim().is_empty(),
                "{}: SQLite SQL is empty",
                m.name
            );
            assert!(
                !m.postgres.trim().is_empty(),
                "{}: PostgreSQL SQL is empty",
                m.name
            );
        }
    }
}
