/**
 * The events a portal knows, by scope (docs/protocol.md §3.7), and how each is sent (docs/protocol.md §3.3):
 * whether the handler gets tokens at all (`sendAuth`) and whether `refresh_token` is among them
 * (`sendRefreshToken`, the core's per-event flag).
 */

export interface EventProfile {
  /** Scope the app needs to bind it; `basic` is the global scope every app has. */
  scope: string;
  /** False: auth carries no tokens and no scope/status (ONAPPUNINSTALL, docs/protocol.md §2.5). @defaultValue true */
  sendAuth: boolean;
  /** The core's sendRefreshToken flag (docs/protocol.md §3.3). @defaultValue false */
  sendRefreshToken: boolean;
  /** The event cannot be bound with event_type=offline (ONOFFLINEEVENT). */
  disableOffline: boolean;
  /** Options event.bind accepts for it, by name and type. */
  allowOptions: Record<string, 'int'>;
}

const DEFAULT_PROFILE: Omit<EventProfile, 'scope'> = {
  sendAuth: true,
  sendRefreshToken: false,
  disableOffline: false,
  allowOptions: {},
};

function crmTriple(entity: string): string[] {
  return ['ADD', 'UPDATE', 'DELETE'].map((action) => `ONCRM${entity}${action}`);
}

const CRM_EVENTS = [
  ...crmTriple('DEAL'),
  'ONCRMDEALMOVETOCATEGORY',
  'ONCRMDEALUSERFIELDADD',
  'ONCRMDEALUSERFIELDUPDATE',
  'ONCRMDEALUSERFIELDDELETE',
  'ONCRMDEALUSERFIELDSETENUMVALUES',
  ...crmTriple('CONTACT'),
  ...crmTriple('LEAD'),
  ...crmTriple('COMPANY'),
  ...crmTriple('ACTIVITY'),
  ...crmTriple('PRODUCT'),
  ...crmTriple('REQUISITE'),
  ...crmTriple('TIMELINECOMMENT'),
  ...crmTriple('DYNAMICITEM'),
];

/** Smart-process events per type, e.g. ONCRMDYNAMICITEMADD_147 (docs/protocol.md §3.7). */
const CRM_DYNAMIC_PER_TYPE = /^ONCRMDYNAMICITEM(ADD|UPDATE|DELETE)_\d+$/;

const PROFILES = new Map<string, EventProfile>();

function define(scope: string, names: string[], profile: Partial<Omit<EventProfile, 'scope'>> = {}): void {
  for (const name of names) PROFILES.set(name, { scope, ...DEFAULT_PROFILE, ...profile });
}

// app events: ONAPPINSTALL/ONAPPUPDATE carry refresh_token; ONAPPUNINSTALL and ONAPPPAYMENT no tokens (docs/protocol.md §2)
define('basic', ['ONAPPINSTALL', 'ONAPPUPDATE'], { sendRefreshToken: true });
define('basic', ['ONAPPUNINSTALL', 'ONAPPPAYMENT'], { sendAuth: false });
define('basic', ['ONAPPTEST', 'ONAPPMETHODCONFIRM']);
// ONOFFLINEEVENT: refresh_token included, cannot itself be offline, option minTimeout (docs/protocol.md §3.6)
define('basic', ['ONOFFLINEEVENT'], { sendRefreshToken: true, disableOffline: true, allowOptions: { minTimeout: 'int' } });
define('user', ['ONUSERADD']);
define('crm', CRM_EVENTS);

/** The profile of an upper-case event name, or undefined if the portal has no such event. */
export function eventProfile(name: string): EventProfile | undefined {
  const known = PROFILES.get(name);
  if (known) return known;
  if (CRM_DYNAMIC_PER_TYPE.test(name)) return { scope: 'crm', ...DEFAULT_PROFILE };
  return undefined;
}

/** Event names whose scope passes `inScope` (`basic` stands for the global scope), as `events` lists them. */
export function eventNames(inScope: (scope: string) => boolean): string[] {
  const names: string[] = [];
  for (const [name, profile] of PROFILES) if (inScope(profile.scope)) names.push(name);
  return names;
}

/** Whether an app with `scopes` may bind the event (unknown or out-of-scope: ERROR_EVENT_NOT_FOUND). */
export function eventAvailable(name: string, scopes: readonly string[]): boolean {
  const profile = eventProfile(name);
  return profile !== undefined && (profile.scope === 'basic' || scopes.includes(profile.scope));
}
