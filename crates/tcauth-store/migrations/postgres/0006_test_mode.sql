-- tcauth PostgreSQL schema, version 6: test mode (CONTRACT.md §11). (Mirrors
-- migrations/sqlite/0006_test_mode.sql, which explains the columns.)

ALTER TABLE clients ADD COLUMN mode TEXT NOT NULL DEFAULT 'live' CHECK (mode IN ('test', 'live'));

CREATE TABLE test_numbers (
    client_id  TEXT   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    phone_e164 TEXT   NOT NULL,
    otp        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, phone_e164)
);
