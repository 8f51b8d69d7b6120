-- tcauth PostgreSQL schema, version 3: per-client branding of the consent page.
-- (Mirrors migrations/sqlite/0003_client_branding.sql.)
--
-- `branding` is a JSON object (tcauth_core::model::Branding: heading, button_text,
-- button_color, button_shape, privacy_url, terms_url), or NULL for the defaults.

ALTER TABLE clients ADD COLUMN branding JSONB;
