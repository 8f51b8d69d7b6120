-- tcauth PostgreSQL schema, version 1. It mirrors migrations/sqlite/0001_init.sql.
--
-- Rules for migrations in this directory:
-- - One file per version, named NNNN_name.sql, numbered from 0001 without gaps, and listed in
--   src/postgres/migrations.rs. The runner applies each in its own transaction, under a
--   transaction-level advisory lock, and records it in `tcauth_schema`; do not write
--   BEGIN/COMMIT or touch `tcauth_schema` here.
-- - Unqualified names: the tables go into the first schema of the connection's search_path.
-- - A released migration is never edited: add a new one instead.
--
-- Times are Unix seconds (BIGINT). Scope sets are space-separated scope names in canonical
-- order. Bearer secrets never appear: codes and tokens are keyed by the SHA-256 of the secret.
-- There are deliberately no foreign keys from codes/tokens to users or clients: deleting a
-- user or a client leaves the tokens already issued in place (userinfo then answers 404).

CREATE TABLE clients (
    client_id       TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    redirect_uris   JSONB   NOT NULL,   -- JSON array of strings
    scopes          TEXT    NOT NULL,
    grant_types     JSONB   NOT NULL,   -- JSON array of grant type names
    rate_per_second BIGINT,             -- both NULL: no per-client limit
    rate_burst      BIGINT,
    created_at      BIGINT  NOT NULL
);

CREATE INDEX clients_by_created_at ON clients (created_at, client_id);

CREATE TABLE users (
    sub            BIGINT  NOT NULL PRIMARY KEY,
    phone_e164     TEXT    NOT NULL UNIQUE,
    phone_country  TEXT    NOT NULL,
    phone_verified BOOLEAN NOT NULL,
    given_name     TEXT,
    family_name    TEXT,
    email          TEXT,
    picture        TEXT,
    gender         TEXT,
    address        JSONB,               -- JSON object, or NULL
    status         TEXT    NOT NULL,    -- 'active' | 'blocked'
    created_at     BIGINT  NOT NULL
);

CREATE TABLE auth_codes (
    hash           BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    family_id      TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    sub            BIGINT  NOT NULL,
    scopes         TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    redirect_uri   TEXT,
    nonce          TEXT,
    auth_time      BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    consumed_at    BIGINT
);

CREATE INDEX auth_codes_by_expires_at ON auth_codes (expires_at);

CREATE TABLE access_tokens (
    hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    sub        BIGINT  NOT NULL,
    scopes     TEXT    NOT NULL,
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_expires_at ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    sub        BIGINT  NOT NULL,
    scopes     TEXT    NOT NULL,
    auth_time  BIGINT  NOT NULL,
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_expires_at ON refresh_tokens (expires_at);

-- `seq` plays SQLite's rowid: it breaks ties between keys created in the same second (keys
-- are added under a table lock, so seq order is commit order).
CREATE TABLE signing_keys (
    kid                TEXT    NOT NULL PRIMARY KEY,
    seq                BIGINT  GENERATED ALWAYS AS IDENTITY,
    private_key_sealed BYTEA   NOT NULL,
    public_n           BYTEA   NOT NULL,
    public_e           BYTEA   NOT NULL,
    created_at         BIGINT  NOT NULL,
    current            BOOLEAN NOT NULL DEFAULT FALSE
);

-- At most one current key.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (current) WHERE current;
