-- The code flow's state binds the portal it was issued for and counts per client (oauth/oauth-state.ts):
-- `member_id` of the portal when it was known at /oauth/start (the callback must name the same one),
-- `client_hash` a SHA-256 of the requesting address, so live states can be capped per client
-- without storing addresses.
ALTER TABLE oauth_states ADD COLUMN member_id TEXT;
ALTER TABLE oauth_states ADD COLUMN client_hash TEXT;

CREATE INDEX oauth_states_client ON oauth_states (client_hash, expires_at_ms);
