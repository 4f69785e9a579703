-- What the app learns about a portal beyond its install (src/app/portal-settings.ts), one row per
-- portal, kept apart from `portals` so that the registry's API stays as it is.
-- `time_zone`: the IANA zone of the installing admin (`profile` TIME_ZONE, read at install and at
-- every app update); NULL when the portal did not say. The scheduler runs the portal's schedules in
-- it (else in the app's default). Times are epoch milliseconds.
CREATE TABLE b24kit_portal_settings (
  member_id      TEXT NOT NULL PRIMARY KEY,
  time_zone      TEXT,
  updated_at_ms  BIGINT NOT NULL
);
