-- Idempotent intake (src/app/intake.ts): the newest version of each item seen (the source's own
-- modification time, or any number that grows with each change), when the caller gives one. A
-- payload with an older version is answered `stale` and changes nothing: a webhook resent out of
-- order, or replayed, cannot undo a later change. NULL: no version given so far.
ALTER TABLE b24kit_intake ADD COLUMN version BIGINT;
