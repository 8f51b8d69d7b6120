-- tcauth PostgreSQL schema, version 2: one-time codes and phone-verification tokens.
-- (See 0001_init.sql for the rules of this directory; mirrors migrations/sqlite/0002_otp.sql.)
--
-- A one-time code has only 6 digits, so it is stored as an HMAC-SHA256 keyed with a key
-- derived from the server secret (never stored here), over the challenge id, the phone number
-- and the code. Verification tokens carry 256 random bits and are stored as their SHA-256.

CREATE TABLE otp_challenges (
    id            TEXT     NOT NULL PRIMARY KEY,   -- 128 random bits, hex: the verificationId
    purpose       TEXT     NOT NULL CHECK (purpose IN ('login', 'verification')),
    phone_e164    TEXT     NOT NULL,
    phone_country TEXT     NOT NULL,
    binding       TEXT     NOT NULL,   -- client_id, or the hex SHA-256 of a browser session id
    code_mac      BYTEA    NOT NULL CHECK (octet_length(code_mac) = 32),
    attempts_left SMALLINT NOT NULL CHECK (attempts_left BETWEEN 0 AND 255),
    created_at    BIGINT   NOT NULL,
    expires_at    BIGINT   NOT NULL,
    consumed_at   BIGINT
);

CREATE INDEX otp_challenges_by_expires_at ON otp_challenges (expires_at);

CREATE TABLE verification_tokens (
    hash          BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    client_id     TEXT   NOT NULL,
    phone_e164    TEXT   NOT NULL,
    phone_country TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE INDEX verification_tokens_by_expires_at ON verification_tokens (expires_at);
