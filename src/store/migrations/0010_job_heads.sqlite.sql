-- Per-portal queue heads (src/queue/fairness.ts): one row per portal that ever had a job, so a claim
-- visits portals in round-robin order without ranking every due job. Kept by triggers, so every path
-- that queues a job (enqueue, retry, postpone, reap, replay) keeps it without knowing about it:
--   due_at_ms: a LOWER BOUND of the run_at_ms of the portal's queued jobs (NULL: none queued). A trigger
--              lowers it when a job is queued; only the claim raises it, after finding no due job.
--   turn:      the claim_seq of the claim that last served the portal (0: never served).
CREATE TABLE b24kit_job_heads (
  member_id TEXT PRIMARY KEY,
  due_at_ms BIGINT,
  turn      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX b24kit_job_heads_order ON b24kit_job_heads (turn, due_at_ms, member_id);
-- the claim reads a portal's due jobs oldest first without sorting its whole backlog
CREATE INDEX b24kit_jobs_portal_due ON b24kit_jobs (state, member_id, run_at_ms, id);

INSERT INTO b24kit_job_heads (member_id, due_at_ms, turn)
  SELECT member_id, MIN(CASE WHEN state = 'queued' THEN run_at_ms END), COALESCE(MAX(claim_seq), 0)
  FROM b24kit_jobs GROUP BY member_id;

CREATE TRIGGER b24kit_jobs_head_insert AFTER INSERT ON b24kit_jobs WHEN NEW.state = 'queued'
BEGIN
  INSERT INTO b24kit_job_heads (member_id, due_at_ms) VALUES (NEW.member_id, NEW.run_at_ms)
    ON CONFLICT (member_id) DO UPDATE SET due_at_ms = excluded.due_at_ms
    WHERE b24kit_job_heads.due_at_ms IS NULL OR b24kit_job_heads.due_at_ms > excluded.due_at_ms;
END;

CREATE TRIGGER b24kit_jobs_head_requeue AFTER UPDATE OF state, run_at_ms ON b24kit_jobs WHEN NEW.state = 'queued'
BEGIN
  INSERT INTO b24kit_job_heads (member_id, due_at_ms) VALUES (NEW.member_id, NEW.run_at_ms)
    ON CONFLICT (member_id) DO UPDATE SET due_at_ms = excluded.due_at_ms
    WHERE b24kit_job_heads.due_at_ms IS NULL OR b24kit_job_heads.due_at_ms > excluded.due_at_ms;
END;

CREATE TRIGGER b24kit_jobs_head_turn AFTER UPDATE OF claim_seq ON b24kit_jobs WHEN NEW.claim_seq IS NOT NULL
BEGIN
  INSERT INTO b24kit_job_heads (member_id, turn) VALUES (NEW.member_id, NEW.claim_seq)
    ON CONFLICT (member_id) DO UPDATE SET turn = excluded.turn WHERE b24kit_job_heads.turn < excluded.turn;
END;
