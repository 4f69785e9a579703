/** The owner of the app's own declarations (and the namespace of its settings). */
export const APP_OWNER = 'app';

/**
 * Between an event and the plugin that handles it in an event job's name. Neither an event name
 * ([A-Za-z0-9_]) nor a plugin name ([a-z0-9._-]) can hold it, so `event:NAME@owner` parses one way.
 */
export const EVENT_OWNER_SEPARATOR = '@';

/**
 * Job names of the app's handlers: one namespace per kind, so a user job called `ONCRMDEALADD`
 * and the event never share a handler. `b24kit jobs list --name event:ONCRMDEALADD` filters by them.
 * An event runs one job per owner's handler (fan-out): the app's is `event:ONCRMDEALADD`, as it
 * always was, a plugin's names the plugin: `event:ONCRMDEALADD@contacts`.
 */
export const jobNames = {
  event: (event: string, owner: string = APP_OWNER): string =>
    owner === APP_OWNER ? `event:${event.toUpperCase()}` : `event:${event.toUpperCase()}${EVENT_OWNER_SEPARATOR}${owner}`,
  job: (name: string): string => `job:${name}`,
  robot: (code: string): string => `robot:${code}`,
  schedule: (name: string): string => `schedule:${name}`,
  /** The framework's own work; user names cannot start with `b24kit:` (definitions.ts). */
  offlineDrain: 'b24kit:offline-drain',
} as const;

/** Prefix of the framework's own schedules and jobs: refused in user schedule names. */
export const RESERVED_PREFIX = 'b24kit:';

/** Event names (validators.ts): case-insensitive on the portal, delivered upper-case (docs/protocol.md §3.1, §3.7). */
export { EVENT_NAME_PATTERN as EVENT_NAME } from '../validators.js';
/** User job and schedule names. */
export const JOB_NAME = /^[A-Za-z0-9._:-]{1,100}$/;
/** Robot codes (docs/protocol.md §7.1). */
export const ROBOT_CODE = /^[A-Za-z0-9._-]{1,100}$/;
