-- tcauth SQLite schema, version 1.
--
-- Rules for migrations in this directory:
-- - One file per version, named NNNN_name.sql, numbered from 0001 without gaps, and listed in
--   src/sqlite/migrations.rs. The runner applies each in its own transaction and then sets
--   `PRAGMA user_version` to its number; do not write BEGIN/COMMIT or user_version here.
-- - A released migration is never edited: add a new one instead.
--
-- Times are Unix seconds. Scope sets are space-separated scope names in canonical order.
-- Bearer secrets never appear: codes and tokens are keyed by the SHA-256 of the secret.
-- There are deliberately no foreign keys from codes/tokens to users or clients: deleting a
-- user or a client leaves the tokens already issued in place (userinfo then answers 404).

CREATE TABLE clients (
    client_id       TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    redirect_uris   TEXT    NOT NULL,   -- JSON array of strings
    scopes          TEXT    NOT NULL,
    grant_types     TEXT    NOT NULL,   -- JSON array of grant type names
    rate_per_second INTEGER,            -- both NULL: no per-client limit
    rate_burst      INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX clients_by_created_at ON clients (created_at, client_id);

CREATE TABLE users (
    sub            INTEGER NOT NULL PRIMARY KEY,
    phone_e164     TEXT    NOT NULL UNIQUE,
    phone_country  TEXT    NOT NULL,
    phone_verified INTEGER NOT NULL CHECK (phone_verified IN (0, 1)),
    given_name     TEXT,
    family_name    TEXT,
    email          TEXT,
    picture        TEXT,
    gender         TEXT,
    address        TEXT,                -- JSON object, or NULL
    status         TEXT    NOT NULL,    -- 'active' | 'blocked'
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE auth_codes (
    hash           BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    family_id      TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    sub            INTEGER NOT NULL,
    scopes         TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    redirect_uri   TEXT,
    nonce          TEXT,
    auth_time      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    consumed_at    INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_codes_by_expires_at ON auth_codes (expires_at);

CREATE TABLE access_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    sub        INTEGER NOT NULL,
    scopes     TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_expires_at ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    sub        INTEGER NOT NULL,
    scopes     TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_expires_at ON refresh_tokens (expires_at);

-- A rowid table on purpose: rowid breaks ties between keys created in the same second.
CREATE TABLE signing_keys (
    kid                TEXT    NOT NULL PRIMARY KEY,
    private_key_sealed BLOB    NOT NULL,
    public_n           BLOB    NOT NULL,
    public_e           BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    current            INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1))
) STRICT;

-- At most one current key.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (current) WHERE current = 1;
