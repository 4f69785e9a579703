-- The event inbox (src/events/inbox.ts) and the ctx.once memo (src/app/once.ts). Portable DDL.
-- Times are epoch milliseconds.

-- One row per accepted event delivery, unique on its dedupe key (src/events/dedupe-key.ts): a
-- repeated delivery collides here and is acknowledged without a second job. `status` is
-- 'queued' (a job was enqueued in the same transaction, its idempotency_key = dedupe_key) or
-- 'ignored' (the app has no handler).
CREATE TABLE b24kit_event_inbox (
  member_id      TEXT NOT NULL,
  dedupe_key     TEXT NOT NULL,
  event          TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('queued', 'ignored')),
  received_at_ms BIGINT NOT NULL,
  PRIMARY KEY (member_id, dedupe_key)
);
CREATE INDEX b24kit_event_inbox_received ON b24kit_event_inbox (received_at_ms);

-- ctx.once(key, fn): the stored result of fn per (job, key); a retried job reads it instead of
-- running fn again.
CREATE TABLE b24kit_job_once (
  job_id        BIGINT NOT NULL,
  once_key      TEXT NOT NULL,
  member_id     TEXT NOT NULL,
  result        TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (job_id, once_key)
);
CREATE INDEX b24kit_job_once_member ON b24kit_job_once (member_id);
