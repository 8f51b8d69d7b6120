-- tcauth PostgreSQL schema, version 4: finished browser sign-ins.
-- (Mirrors migrations/sqlite/0004_finished_interactions.sql.)
--
-- A sign-in's state lives in a sealed cookie; once Allow or Deny finished it, its key is kept
-- here so that the same cookie cannot finish it again, on any node (Store::finish_interaction).
-- The key is a SHA-256 over the interaction's 128-bit random id, never the id itself. Rows
-- live until the interaction would have expired (plus a margin for clocks), then the sweeper
-- deletes them.

CREATE TABLE finished_interactions (
    hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    expires_at BIGINT  NOT NULL
);

CREATE INDEX finished_interactions_by_expires_at ON finished_interactions (expires_at);
