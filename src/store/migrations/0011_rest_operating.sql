-- The REST client's operating budgets (src/rest/store-operating.ts): one row per portal and method,
-- shared by every process of the app, so that together they stay inside the method's budget as the
-- portal sums it (docs/protocol.md §5.2: per app and method, whichever process sends the calls).
-- `budget_key` is the portal's key (member_id; for a webhook without one, host and path up to
-- /rest/), `method` the method lower-cased. The columns mirror SharedOperatingState
-- (src/rest/operating-share.ts); `reservations` is its JSON array of granted calls in flight.
-- Times are epoch ms of the processes' clocks, fractional (DOUBLE PRECISION) like the buckets'.
CREATE TABLE b24kit_rest_operating (
  budget_key                TEXT NOT NULL,
  method                    TEXT NOT NULL,
  operating_seconds         DOUBLE PRECISION NOT NULL DEFAULT 0,
  reset_at_server_seconds   BIGINT NOT NULL DEFAULT 0,
  reset_at_ms               DOUBLE PRECISION NOT NULL DEFAULT 0,
  cost_seconds              DOUBLE PRECISION NOT NULL DEFAULT 0,
  blocked_until_ms          DOUBLE PRECISION NOT NULL DEFAULT 0,
  reservations              TEXT NOT NULL DEFAULT '[]',
  updated_at_ms             BIGINT NOT NULL,
  PRIMARY KEY (budget_key, method)
);
