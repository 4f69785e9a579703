-- One row per fired schedule slot (src/scheduler/): the primary key makes a fire time of a
-- schedule fire once per portal, however many scheduler processes tick it. Times are epoch ms.
CREATE TABLE b24kit_schedule_slots (
  name          TEXT NOT NULL,
  member_id     TEXT NOT NULL,
  fire_time_ms  BIGINT NOT NULL,
  missed_slots  INTEGER NOT NULL DEFAULT 0,
  job_id        BIGINT,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (name, member_id, fire_time_ms)
);
