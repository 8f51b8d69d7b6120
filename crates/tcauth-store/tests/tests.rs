//! The crate's one integration-test binary (`autotests = false` in Cargo.toml): the
//! conformance story every backend must pass (`conformance/`), and each backend's runner of
//! it, with what is specific to that backend. Tests are named `sqlite::…` and `postgres::…`;
//! the PostgreSQL ones print SKIPPED and pass unless `TCAUTH_TEST_DATABASE_URL` is set.

mod conformance;
mod postgres;
mod sqlite;
