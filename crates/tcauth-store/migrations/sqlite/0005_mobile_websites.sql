-- tcauth SQLite schema, version 5: the Mobile Websites flow and SDK v2.8 (CONTRACT.md §9, §10).
--
-- Clients gain their Truecaller app key (unique; existing clients get a random one), an
-- optional callback URL with the salt of its signing secret (the secret itself is derived by
-- the server and never stored), an optional Android package name, and the time of their last
-- change in milliseconds (nodes poll it to pick up changes within a second).
--
-- callback_deliveries is the outbox of the callback POSTs. The body is sealed by the server
-- (it carries an access token). A pending row is leased by the node attempting it
-- (lease_until_ms), so no two attempts run at once; rows are kept for the delivery log and
-- swept a day after their token expired.

ALTER TABLE clients ADD COLUMN app_key TEXT NOT NULL DEFAULT '';
UPDATE clients SET app_key = lower(hex(randomblob(16))) WHERE app_key = '';
CREATE UNIQUE INDEX clients_by_app_key ON clients (app_key);
ALTER TABLE clients ADD COLUMN callback_url TEXT;
ALTER TABLE clients ADD COLUMN callback_salt TEXT;
ALTER TABLE clients ADD COLUMN package_name TEXT;
ALTER TABLE clients ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET updated_at_ms = created_at * 1000;

CREATE TABLE callback_deliveries (
    id                 TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    request_id         TEXT    NOT NULL,
    url                TEXT    NOT NULL,
    body_sealed        BLOB    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    next_attempt_at_ms INTEGER NOT NULL,
    lease_until_ms     INTEGER NOT NULL DEFAULT 0,
    expires_at         INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    delivered_at       INTEGER
) STRICT;

CREATE INDEX callback_deliveries_due ON callback_deliveries (status, next_attempt_at_ms);
CREATE INDEX callback_deliveries_by_client ON callback_deliveries (client_id, created_at);
CREATE INDEX callback_deliveries_by_expires_at ON callback_deliveries (expires_at);
