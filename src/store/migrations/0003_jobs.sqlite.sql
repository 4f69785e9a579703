-- The durable job queue (src/queue/). Kept identical to 0003_jobs.postgres.sql except for the id
-- column: SQLite's INTEGER PRIMARY KEY AUTOINCREMENT vs PostgreSQL's identity. Times are epoch ms.
CREATE TABLE b24kit_jobs (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  member_id           TEXT NOT NULL,
  name                TEXT NOT NULL,
  payload             TEXT NOT NULL,
  idempotency_key     TEXT,
  state               TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
  attempts            INTEGER NOT NULL DEFAULT 0,
  max_attempts        INTEGER NOT NULL,
  postpones           INTEGER NOT NULL DEFAULT 0,
  run_at_ms           BIGINT NOT NULL,
  lease_owner         TEXT,
  lease_expires_at_ms BIGINT,
  claim_seq           BIGINT,
  started_at_ms       BIGINT,
  finished_at_ms      BIGINT,
  last_error          TEXT,
  history             TEXT NOT NULL DEFAULT '[]',
  result              TEXT,
  created_at_ms       BIGINT NOT NULL,
  updated_at_ms       BIGINT NOT NULL
);

-- NULL keys are distinct on both dialects: jobs without a key never collide
CREATE UNIQUE INDEX b24kit_jobs_idempotency ON b24kit_jobs (member_id, name, idempotency_key);
CREATE INDEX b24kit_jobs_due ON b24kit_jobs (state, run_at_ms);
CREATE INDEX b24kit_jobs_running ON b24kit_jobs (state, member_id, lease_expires_at_ms);
CREATE INDEX b24kit_jobs_member_turn ON b24kit_jobs (member_id, claim_seq);
CREATE INDEX b24kit_jobs_turn ON b24kit_jobs (claim_seq);
