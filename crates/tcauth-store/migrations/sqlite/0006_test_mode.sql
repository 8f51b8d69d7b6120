-- tcauth SQLite schema, version 6: test mode (CONTRACT.md §11).
--
-- Clients gain their mode, 'test' or 'live'; existing clients are live, so their integrations
-- keep working. A test client's registered test numbers, each with its fixed one-time code (a
-- test fixture, not a secret), go with the client when it is deleted.

ALTER TABLE clients ADD COLUMN mode TEXT NOT NULL DEFAULT 'live' CHECK (mode IN ('test', 'live'));

CREATE TABLE test_numbers (
    client_id  TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    phone_e164 TEXT    NOT NULL,
    otp        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, phone_e164)
) STRICT;
