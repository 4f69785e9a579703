-- Server-side OAuth `state` values of the authorization-code flow (oauth/oauth-state.ts): single-use,
-- expiring, shared by every web process (no cookies). Only a SHA-256 of the state is stored.
CREATE TABLE oauth_states (
  state_hash    TEXT PRIMARY KEY,
  domain        TEXT,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);

CREATE INDEX oauth_states_expires ON oauth_states (expires_at_ms);
