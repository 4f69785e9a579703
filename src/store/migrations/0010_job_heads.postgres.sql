-- Per-portal queue heads (src/queue/fairness.ts): one row per portal that ever had a job, so a claim
-- visits portals in round-robin order without ranking every due job. Kept by triggers, so every path
-- that queues a job (enqueue, retry, postpone, reap, replay) keeps it without knowing about it:
--   due_at_ms: a LOWER BOUND of the run_at_ms of the portal's queued jobs (NULL: none queued). A trigger
--              lowers it when a job is queued; only the claim raises it, after finding no due job.
--   turn:      the claim_seq of the claim that last served the portal (0: never served).
-- Concurrency: a statement that queues jobs holds FOR KEY SHARE on its portals' head rows until it
-- commits; the claim raises due_at_ms only under FOR UPDATE SKIP LOCKED, i.e. never while a
-- transaction that queued a job for that portal is open, so it cannot hide a job it did not see.
-- FOR KEY SHARE does not conflict with the claim's own turn update (FOR NO KEY UPDATE).
CREATE TABLE b24kit_job_heads (
  member_id TEXT PRIMARY KEY,
  due_at_ms BIGINT,
  turn      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX b24kit_job_heads_order ON b24kit_job_heads (turn, due_at_ms, member_id);
-- the claim reads a portal's due jobs oldest first without sorting its whole backlog
CREATE INDEX b24kit_jobs_portal_due ON b24kit_jobs (state, member_id, run_at_ms, id);

INSERT INTO b24kit_job_heads (member_id, due_at_ms, turn)
  SELECT member_id, MIN(run_at_ms) FILTER (WHERE state = 'queued'), COALESCE(MAX(claim_seq), 0)
  FROM b24kit_jobs GROUP BY member_id;

CREATE FUNCTION b24kit_jobs_heads_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO b24kit_job_heads (member_id, due_at_ms)
    SELECT member_id, MIN(run_at_ms) FROM b24kit_changed_jobs WHERE state = 'queued' GROUP BY member_id ORDER BY member_id
    ON CONFLICT (member_id) DO NOTHING;
  -- rows locked in member_id order, as the claim locks them: no deadlock between the two
  PERFORM 1 FROM b24kit_job_heads h JOIN (SELECT DISTINCT member_id FROM b24kit_changed_jobs WHERE state = 'queued') q USING (member_id)
    ORDER BY h.member_id FOR KEY SHARE OF h;
  WITH q AS (SELECT member_id, MIN(run_at_ms) AS due FROM b24kit_changed_jobs WHERE state = 'queued' GROUP BY member_id),
       l AS (SELECT h.member_id, q.due FROM b24kit_job_heads h JOIN q USING (member_id)
             WHERE h.due_at_ms IS NULL OR h.due_at_ms > q.due ORDER BY h.member_id FOR NO KEY UPDATE OF h)
  UPDATE b24kit_job_heads h SET due_at_ms = LEAST(COALESCE(h.due_at_ms, l.due), l.due) FROM l WHERE h.member_id = l.member_id;
  IF TG_OP = 'UPDATE' THEN
    WITH s AS (SELECT member_id, MAX(claim_seq) AS turn FROM b24kit_changed_jobs WHERE state = 'running' AND claim_seq IS NOT NULL GROUP BY member_id),
         l AS (SELECT h.member_id, s.turn FROM b24kit_job_heads h JOIN s USING (member_id)
               WHERE h.turn < s.turn ORDER BY h.member_id FOR NO KEY UPDATE OF h)
    UPDATE b24kit_job_heads h SET turn = GREATEST(h.turn, l.turn) FROM l WHERE h.member_id = l.member_id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER b24kit_jobs_heads_insert AFTER INSERT ON b24kit_jobs
  REFERENCING NEW TABLE AS b24kit_changed_jobs FOR EACH STATEMENT EXECUTE FUNCTION b24kit_jobs_heads_sync();
-- on every UPDATE statement (PostgreSQL allows no column list with transition tables); on a heartbeat's
-- one row that is three index lookups that change nothing
CREATE TRIGGER b24kit_jobs_heads_update AFTER UPDATE ON b24kit_jobs
  REFERENCING NEW TABLE AS b24kit_changed_jobs FOR EACH STATEMENT EXECUTE FUNCTION b24kit_jobs_heads_sync();
