-- The portal registry (one row per member_id). Portable DDL: runs unchanged on SQLite and PostgreSQL.
-- Secret columns hold sealed values (store/crypto.ts), never plaintext. Times are epoch milliseconds.
CREATE TABLE portals (
  member_id              TEXT PRIMARY KEY,
  domain                 TEXT NOT NULL,
  client_endpoint        TEXT NOT NULL,
  server_endpoint        TEXT NOT NULL,
  access_token           TEXT,
  refresh_token          TEXT,
  expires_at_ms          BIGINT NOT NULL DEFAULT 0,
  scope                  TEXT NOT NULL DEFAULT '',
  status                 TEXT NOT NULL DEFAULT 'L',
  application_token      TEXT,
  installed_by_user_id   BIGINT,
  state                  TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'needs_reauth', 'uninstalled')),
  version                BIGINT NOT NULL DEFAULT 1,
  refresh_lease_owner    TEXT,
  refresh_lease_until_ms BIGINT,
  last_refreshed_at_ms   BIGINT,
  last_used_at_ms        BIGINT,
  refresh_failures       INTEGER NOT NULL DEFAULT 0,
  needs_reauth_since_ms  BIGINT,
  created_at_ms          BIGINT NOT NULL,
  updated_at_ms          BIGINT NOT NULL
);

CREATE INDEX portals_state_refreshed ON portals (state, last_refreshed_at_ms);
CREATE INDEX portals_domain ON portals (domain);
