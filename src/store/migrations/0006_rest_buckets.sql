-- The REST client's leaky buckets (src/rest/store-bucket.ts): one row per portal, shared by every
-- process of the app, so that they draw from one budget as the portal counts it (docs/protocol.md §5.1).
-- `bucket_key` is the portal's member_id (for a webhook without one: host and path up to /rest/).
-- The bucket columns mirror BucketState (src/rest/limiter.ts) and are NULL until the portal's first
-- request. `at_ms` and `paused_until_ms` are DOUBLE PRECISION, not BIGINT: the model schedules
-- requests at fractional milliseconds (1000 / drain) and rounding would drift. The plan
-- (app.info LICENSE_FAMILY) is cached next to the bucket, read again daily (src/rest/plans.ts).
CREATE TABLE b24kit_rest_buckets (
  bucket_key          TEXT NOT NULL PRIMARY KEY,
  level               DOUBLE PRECISION,
  at_ms               DOUBLE PRECISION,
  paused_until_ms     DOUBLE PRECISION,
  epoch               INTEGER,
  license_family      TEXT,
  plan_checked_at_ms  BIGINT,
  updated_at_ms       BIGINT NOT NULL
);
