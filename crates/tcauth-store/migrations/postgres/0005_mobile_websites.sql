-- tcauth PostgreSQL schema, version 5: the Mobile Websites flow and SDK v2.8 (CONTRACT.md §9,
-- §10). (Mirrors migrations/sqlite/0005_mobile_websites.sql, which explains the columns.)
--
-- Nodes claim due deliveries with SELECT … FOR UPDATE SKIP LOCKED and a lease, so each
-- attempt is made by exactly one node of a cluster.

ALTER TABLE clients ADD COLUMN app_key TEXT NOT NULL DEFAULT '';
UPDATE clients SET app_key = replace(gen_random_uuid()::text, '-', '') WHERE app_key = '';
CREATE UNIQUE INDEX clients_by_app_key ON clients (app_key);
ALTER TABLE clients ADD COLUMN callback_url TEXT;
ALTER TABLE clients ADD COLUMN callback_salt TEXT;
ALTER TABLE clients ADD COLUMN package_name TEXT;
ALTER TABLE clients ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE clients SET updated_at_ms = created_at * 1000;

CREATE TABLE callback_deliveries (
    id                 TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    request_id         TEXT    NOT NULL,
    url                TEXT    NOT NULL,
    body_sealed        BYTEA   NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    next_attempt_at_ms BIGINT  NOT NULL,
    lease_until_ms     BIGINT  NOT NULL DEFAULT 0,
    expires_at         BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    delivered_at       BIGINT
);

CREATE INDEX callback_deliveries_due ON callback_deliveries (status, next_attempt_at_ms);
CREATE INDEX callback_deliveries_by_client ON callback_deliveries (client_id, created_at);
CREATE INDEX callback_deliveries_by_expires_at ON callback_deliveries (expires_at);
