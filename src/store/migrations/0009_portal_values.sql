-- Per-portal settings of the app and its plugins (src/app/portal-values.ts): one row per
-- (portal, namespace, key). `namespace` is 'app' or a plugin's name. `value` is JSON text, or for
-- a secret (`sealed` = 1) that JSON sealed with the token encryption (AES-256-GCM, bound to
-- member_id, namespace and key). Purged with the portal on uninstall with CLEAN.
CREATE TABLE b24kit_portal_values (
  member_id      TEXT NOT NULL,
  namespace      TEXT NOT NULL,
  name           TEXT NOT NULL,
  value          TEXT NOT NULL,
  sealed         INTEGER NOT NULL,
  updated_at_ms  BIGINT NOT NULL,
  PRIMARY KEY (member_id, namespace, name)
);

-- Idempotent intake (src/app/intake.ts): the latest revision of each item a source sent for a
-- portal, the hash of its payload and the job that stands for it. Purged with the portal.
CREATE TABLE b24kit_intake (
  member_id      TEXT NOT NULL,
  source         TEXT NOT NULL,
  external_id    TEXT NOT NULL,
  revision       INTEGER NOT NULL,
  payload_hash   TEXT NOT NULL,
  job_id         BIGINT NOT NULL,
  updated_at_ms  BIGINT NOT NULL,
  PRIMARY KEY (member_id, source, external_id)
);
