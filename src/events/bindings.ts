/**
 * Bindings reconciliation: make a portal's event handlers and robots match what the app declares
 * (docs/protocol.md §3.1, §3.2, §3.6, §7.1). Runs after install and after every ONAPPUPDATE, because the
 * portal drops an app's handlers on update (docs/protocol.md §2.4). docs/events.md has the rules.
 *
 * What counts as OURS (the only bindings this function ever removes):
 * - online: `auth_type` 0 (bound without a user, as the framework binds) AND a handler URL under
 *   `{appUrl}/webhooks/` or under a `formerAppUrls` entry's `/webhooks/` — the framework's
 *   receiver namespace. Handlers of other users (`auth_type` ≠ 0) and handlers pointing anywhere
 *   else (the app's own extra endpoints, other services) are kept. Other apps' handlers are not
 *   even visible: `event.get` lists only the calling app's.
 * - offline: bindings with our `authConnector` (default: none). `event.get` shows no handler for
 *   them, so the connector is the only mark.
 * - robots: never removed unless `removeStaleRobots` (a removed robot breaks the automation rules
 *   that use it).
 *
 * Concurrency: two reconciles at once both read `event.get`, both bind what is missing, and the
 * portal refuses the second bind of the same (event, handler, user) as a duplicate — which counts
 * as success here (`kept`). An unbind that finds nothing answers count 0, also fine. Two
 * `bizproc.robot.add` of one code: the loser gets ERROR_ACTIVITY_ALREADY_INSTALLED and updates.
 * The portal's uniqueness rule is the lock; no store lock is needed.
 */
import { B24Error } from '../errors.js';
import type { B24Client, BatchResult } from '../rest/client.js';
import type { B24Logger } from '../rest/hooks.js';
import { robotAddParams, robotFields, validateRobotDefinitions, type RobotDefinition } from '../robots/definition.js';
import { isEventName, isMemberId } from '../validators.js';

/** Events the framework itself needs on every portal, bound online whatever the app declares. */
export const LIFECYCLE_EVENTS: readonly string[] = Object.freeze(['ONAPPUPDATE', 'ONAPPUNINSTALL']);

/** The "offline queue has records" ping (docs/protocol.md §3.6). */
export const OFFLINE_NOTIFY_EVENT = 'ONOFFLINEEVENT';

export interface ReconcileBindingsOptions {
  client: B24Client;
  /** The app's public base URL (`B24_APP_URL`), e.g. `https://app.example.com` or `https://host/prefix`. */
  appUrl: string;
  memberId: string;
  /** Events to bind online to `{appUrl}/webhooks/{memberId}/event`. ONAPPUPDATE and ONAPPUNINSTALL are always added. */
  events: readonly string[];
  /** Events to bind offline (`event_type=offline`): queued on the portal, drained with event.offline.get. @defaultValue [] */
  offlineEvents?: readonly string[];
  /**
   * Bind ONOFFLINEEVENT online with `options.minTimeout` (seconds: at most one ping per N seconds; 0 = one
   * per portal hit), so that the receiver can trigger a drain. Leave it out to drain on a schedule.
   * The portal does not report a binding's options, so a changed minTimeout takes effect only after
   * the binding is re-created (every app update drops it anyway). @defaultValue not bound
   */
  offlineNotify?: { minTimeoutSeconds: number };
  /** The `auth_connector` of offline bindings (docs/protocol.md §3.6). @defaultValue none */
  authConnector?: string;
  /** Robots to register (`bizproc.robot.add`, or `.update` when the code exists). HANDLER = `{appUrl}/robots/{memberId}/{code}`. @defaultValue [] */
  robots?: readonly RobotDefinition[];
  /** Delete robots of this app whose code is not declared. @defaultValue false */
  removeStaleRobots?: boolean;
  /** Earlier public URLs of the app: handlers under their `/webhooks/` are ours too, and stale. @defaultValue [] */
  formerAppUrls?: readonly string[];
  logger?: B24Logger;
}

export type BindingMode = 'online' | 'offline';

export interface BindingRef {
  event: string;
  mode: BindingMode;
  /** Online handlers only. */
  handler?: string;
}

export interface ReconcileFailure {
  /** What failed: `bind`, `unbind`, `robot.add`, `robot.update`, `robot.delete`. */
  action: string;
  /** The event or robot code. */
  target: string;
  error: B24Error;
}

export interface BindingsReport {
  /** Bindings created by this run. */
  bound: BindingRef[];
  /** Stale bindings of ours removed by this run. */
  unbound: BindingRef[];
  /** Declared bindings that were already there (or that a concurrent run created first). */
  kept: BindingRef[];
  robotsAdded: string[];
  robotsUpdated: string[];
  /** Only with `removeStaleRobots`. */
  robotsRemoved?: string[];
  /** Empty on success; otherwise {@link reconcileBindings} throws a {@link BindingsReconcileError} carrying this report. */
  failures: ReconcileFailure[];
}

/** B24_ERR_BINDINGS_INCOMPLETE: some items failed; everything else was applied. `report` says what. */
export class BindingsReconcileError extends B24Error {
  readonly report: BindingsReport;
  constructor(report: BindingsReport, memberId: string) {
    const list = report.failures.map((failure) => `${failure.action} ${failure.target}: ${failure.error.bitrixCode || failure.error.code}`).join('; ');
    super('B24_ERR_BINDINGS_INCOMPLETE', `${report.failures.length} binding(s) could not be reconciled: ${list}`, {
      memberId,
      cause: report.failures[0]?.error,
    });
    this.name = 'BindingsReconcileError';
    this.report = report;
  }
}

/** `{appUrl}/webhooks/{memberId}/event`: where the portal POSTs online events. */
export function eventHandlerUrl(appUrl: string, memberId: string): string {
  return `${baseUrl(appUrl)}/webhooks/${encodeURIComponent(memberId)}/event`;
}

/** `{appUrl}/robots/{memberId}/{code}`: where the portal POSTs robot calls. */
export function robotHandlerUrl(appUrl: string, memberId: string, code: string): string {
  return `${baseUrl(appUrl)}/robots/${encodeURIComponent(memberId)}/${encodeURIComponent(code)}`;
}

/** One row of `event.get` (docs/protocol.md §3.2), normalised. */
export interface PortalBinding {
  event: string;
  mode: BindingMode;
  /** Online only. */
  handler: string;
  /** Online only; '0' = no user (the event's own user). */
  authType: string;
  /** Offline only. */
  connectorId: string;
}

/** Reads `event.get` rows into {@link PortalBinding}s; unknown shapes are skipped. */
export function parseEventGet(result: unknown): PortalBinding[] {
  const rows = Array.isArray(result) ? result : result && typeof result === 'object' ? Object.values(result) : [];
  const out: PortalBinding[] = [];
  for (const row of rows) {
    if (!row || typeof row !== 'object') continue;
    const r = row as Record<string, unknown>;
    const event = typeof r.event === 'string' ? r.event.toUpperCase() : '';
    if (event === '') continue;
    const offline = String(r.offline ?? '0') === '1';
    out.push({
      event,
      mode: offline ? 'offline' : 'online',
      handler: offline ? '' : String(r.handler ?? ''),
      authType: offline ? '0' : String(r.auth_type ?? '0') || '0',
      connectorId: offline ? String(r.connector_id ?? '') : '',
    });
  }
  return out;
}

/** The plan for one portal: pure, so that the rules have their own tests. */
export interface BindingsPlan {
  bind: Array<BindingRef & { options?: Record<string, unknown> }>;
  unbind: Array<BindingRef & { authType?: string }>;
  kept: BindingRef[];
}

export interface PlanInput {
  appUrl: string;
  memberId: string;
  online: readonly string[];
  offline: readonly string[];
  authConnector: string;
  formerAppUrls: readonly string[];
  eventOptions: Readonly<Record<string, Record<string, unknown>>>;
}

/** What to bind, unbind and keep, from what the portal has (see the file comment for "ours"). */
export function planBindings(existing: readonly PortalBinding[], input: PlanInput): BindingsPlan {
  const handler = eventHandlerUrl(input.appUrl, input.memberId);
  const namespaces = [input.appUrl, ...input.formerAppUrls].map((url) => `${baseUrl(url)}/webhooks/`);
  const isOurOnline = (b: PortalBinding): boolean => b.mode === 'online' && b.authType === '0' && namespaces.some((prefix) => b.handler.startsWith(prefix));
  const isOurOffline = (b: PortalBinding): boolean => b.mode === 'offline' && b.connectorId === input.authConnector;
  const wantedOnline = new Set(input.online);
  const wantedOffline = new Set(input.offline);
  const plan: BindingsPlan = { bind: [], unbind: [], kept: [] };

  for (const event of wantedOnline) {
    const present = existing.some((b) => isOurOnline(b) && b.event === event && b.handler === handler);
    if (present) plan.kept.push({ event, mode: 'online', handler });
    else plan.bind.push({ event, mode: 'online', handler, ...(input.eventOptions[event] ? { options: input.eventOptions[event] } : {}) });
  }
  for (const event of wantedOffline) {
    if (existing.some((b) => isOurOffline(b) && b.event === event)) plan.kept.push({ event, mode: 'offline' });
    else plan.bind.push({ event, mode: 'offline' });
  }
  for (const b of existing) {
    if (isOurOnline(b) && !(b.handler === handler && wantedOnline.has(b.event))) {
      plan.unbind.push({ event: b.event, mode: 'online', handler: b.handler, authType: b.authType });
    } else if (isOurOffline(b) && !wantedOffline.has(b.event)) {
      plan.unbind.push({ event: b.event, mode: 'offline' });
    }
  }
  return plan;
}

/** The declaration as planBindings takes it: names checked and upper-cased, the lifecycle events and the offline ping added. */
function planInput(options: BindingsDeclaration): PlanInput {
  const appUrl = checkedAppUrl(options.appUrl, 'appUrl');
  const formerAppUrls = (options.formerAppUrls ?? []).map((url) => checkedAppUrl(url, 'formerAppUrls'));
  if (!isMemberId(options.memberId)) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'memberId is malformed');
  const online = eventNames([...(options.events ?? []), ...LIFECYCLE_EVENTS, ...(options.offlineNotify ? [OFFLINE_NOTIFY_EVENT] : [])], 'events');
  const offline = eventNames(options.offlineEvents ?? [], 'offlineEvents');
  if (offline.includes(OFFLINE_NOTIFY_EVENT)) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'ONOFFLINEEVENT cannot be bound offline (docs/protocol.md §3.6)');
  const eventOptions: Record<string, Record<string, unknown>> = {};
  if (options.offlineNotify) {
    const minTimeout = options.offlineNotify.minTimeoutSeconds;
    if (!Number.isInteger(minTimeout) || minTimeout < 0) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'offlineNotify.minTimeoutSeconds must be an integer ≥ 0');
    eventOptions[OFFLINE_NOTIFY_EVENT] = { minTimeout };
  }
  return { appUrl, memberId: options.memberId, online, offline, authConnector: options.authConnector ?? '', formerAppUrls, eventOptions };
}

/** The part of {@link ReconcileBindingsOptions} that says what the portal should hold. */
export type BindingsDeclaration = Pick<ReconcileBindingsOptions, 'appUrl' | 'memberId' | 'events' | 'offlineEvents' | 'offlineNotify' | 'authConnector' | 'formerAppUrls'>;

/** How a portal's bindings (`event.get`) differ from a declaration: what a reconcile would bind and unbind. */
export interface BindingsDrift {
  /** Declared, not on the portal. */
  missing: BindingRef[];
  /** Ours on the portal, not declared (or at another handler URL of ours). */
  stale: BindingRef[];
  kept: BindingRef[];
}

/** The drift of `existing` from the declaration, by the rules reconcileBindings acts on; no request is made (`b24kit doctor`). */
export function bindingsDrift(existing: readonly PortalBinding[], declaration: BindingsDeclaration): BindingsDrift {
  const plan = planBindings(existing, planInput(declaration));
  const ref = ({ event, mode, handler }: BindingRef): BindingRef => ({ event, mode, ...(handler !== undefined ? { handler } : {}) });
  return { missing: plan.bind.map(ref), stale: plan.unbind.map(ref), kept: plan.kept };
}

/** Duplicate-bind answers: the docs' code, and the core's wrapper (docs/protocol.md §3.1, code UNCONFIRMED). */
const DUPLICATE_BIND = 'ERROR_HANDLER_ALREADY_EXIST';
const MAYBE_DUPLICATE_BIND = 'ERROR_CORE';

/**
 * Makes the portal's event bindings and robots match the declaration. Idempotent: a second run
 * with nothing changed sends only the reads (`event.get`, plus `bizproc.robot.list` and one update
 * per robot when robots are declared — the portal cannot show a robot's settings, so they are
 * re-sent). At most three requests in the usual case: one batch of reads, one batch of writes, and
 * a follow-up for robots added concurrently or binds whose refusal needs checking.
 *
 * Throws B24_ERR_INVALID_ARGUMENT for a bad declaration (before any request), a B24Error when the
 * reads fail, and {@link BindingsReconcileError} when some writes failed (the others are applied).
 */
export async function reconcileBindings(options: ReconcileBindingsOptions): Promise<BindingsReport> {
  const { client, memberId } = options;
  const input = planInput(options);
  const { appUrl, authConnector } = input;
  const robots = options.robots ?? [];
  validateRobotDefinitions(robots);
  const log = options.logger;
  const wantRobotList = robots.length > 0 || options.removeStaleRobots === true;

  // 1. read what the portal has
  let existing: PortalBinding[];
  let robotCodes: Set<string> | undefined;
  if (wantRobotList) {
    const read = await client.batch({ bindings: ['event.get', {}], robots: ['bizproc.robot.list', {}] });
    if (read.errors.bindings) throw read.errors.bindings;
    existing = parseEventGet(read.result.bindings);
    if (read.errors.robots) {
      // without the list, add everything and fall back to update on ERROR_ACTIVITY_ALREADY_INSTALLED
      if (options.removeStaleRobots) throw read.errors.robots;
      log?.debug({ memberId, err: read.errors.robots }, 'b24kit: bizproc.robot.list failed; robots will be added, updating those that exist');
    } else {
      robotCodes = new Set(Array.isArray(read.result.robots) ? read.result.robots.map(String) : []);
    }
  } else {
    existing = parseEventGet((await client.call('event.get')).result);
  }

  // 2. plan
  const plan = planBindings(existing, input);
  const report: BindingsReport = { bound: [], unbound: [], kept: [...plan.kept], robotsAdded: [], robotsUpdated: [], failures: [] };
  if (options.removeStaleRobots) report.robotsRemoved = [];

  type Command = { key: string; method: string; params: Record<string, unknown>; done: (result: unknown, error: B24Error | undefined) => void };
  const commands: Command[] = [];
  const uncertainBinds: BindingRef[] = [];
  const robotRetries: RobotDefinition[] = [];
  const fail = (action: string, target: string, error: B24Error): void => {
    report.failures.push({ action, target, error });
    log?.warn({ memberId, action, target, code: error.code, bitrixCode: error.bitrixCode }, 'b24kit: a binding could not be reconciled');
  };

  plan.bind.forEach((binding, index) => {
    const params: Record<string, unknown> =
      binding.mode === 'online'
        ? { event: binding.event, handler: binding.handler, ...(binding.options ? { options: binding.options } : {}) }
        : { event: binding.event, event_type: 'offline', ...(authConnector !== '' ? { auth_connector: authConnector } : {}) };
    const ref: BindingRef = binding.mode === 'online' ? { event: binding.event, mode: 'online', handler: binding.handler! } : { event: binding.event, mode: 'offline' };
    commands.push({
      key: `bind_${index}`,
      method: 'event.bind',
      params,
      done: (_result, error) => {
        if (!error) report.bound.push(ref);
        // another process bound it between our read and our bind: the state we want exists
        else if (error.bitrixCode === DUPLICATE_BIND) report.kept.push(ref);
        else if (error.bitrixCode === MAYBE_DUPLICATE_BIND) uncertainBinds.push(ref);
        else fail('bind', bindingLabel(ref), error);
      },
    });
  });
  plan.unbind.forEach((binding, index) => {
    const params: Record<string, unknown> =
      binding.mode === 'online'
        ? { event: binding.event, handler: binding.handler, auth_type: binding.authType ?? '0' }
        : { event: binding.event, event_type: 'offline', ...(authConnector !== '' ? { auth_connector: authConnector } : {}) };
    const ref: BindingRef = binding.mode === 'online' ? { event: binding.event, mode: 'online', handler: binding.handler! } : { event: binding.event, mode: 'offline' };
    commands.push({
      key: `unbind_${index}`,
      method: 'event.unbind',
      params,
      // count 0 = a concurrent run removed it first: still gone, still success
      done: (_result, error) => (error ? fail('unbind', bindingLabel(ref), error) : void report.unbound.push(ref)),
    });
  });
  robots.forEach((robot, index) => {
    const handler = robotHandlerUrl(appUrl, memberId, robot.code);
    if (robotCodes?.has(robot.code)) {
      commands.push(robotUpdate(`robot_${index}`, robot, handler));
    } else {
      commands.push({
        key: `robot_${index}`,
        method: 'bizproc.robot.add',
        params: robotAddParams(robot, handler),
        done: (_result, error) => {
          if (!error) report.robotsAdded.push(robot.code);
          else if (error.bitrixCode === 'ERROR_ACTIVITY_ALREADY_INSTALLED') robotRetries.push(robot);
          else fail('robot.add', robot.code, error);
        },
      });
    }
  });
  if (options.removeStaleRobots && robotCodes) {
    const declared = new Set(robots.map((robot) => robot.code));
    [...robotCodes].filter((code) => !declared.has(code)).forEach((code, index) => {
      commands.push({
        key: `robot_delete_${index}`,
        method: 'bizproc.robot.delete',
        params: { CODE: code },
        done: (_result, error) => {
          if (!error || error.bitrixCode === 'ERROR_ACTIVITY_NOT_FOUND') report.robotsRemoved!.push(code);
          else fail('robot.delete', code, error);
        },
      });
    });
  }

  function robotUpdate(key: string, robot: RobotDefinition, handler: string): Command {
    return {
      key,
      method: 'bizproc.robot.update',
      params: { CODE: robot.code, FIELDS: robotFields(robot, handler) },
      done: (_result, error) => (error ? fail('robot.update', robot.code, error) : void report.robotsUpdated.push(robot.code)),
    };
  }

  // 3. write: one batch (cut into requests of 50 by the client). Every command converges when sent
  // twice (duplicates are tolerated, updates overwrite), so a retry after an unknown outcome is safe.
  await runCommands(client, commands);

  // 4. follow-ups: robots added by someone else meanwhile, and binds refused with the ambiguous code
  const followUps: Command[] = robotRetries.map((robot, index) => robotUpdate(`robot_retry_${index}`, robot, robotHandlerUrl(appUrl, memberId, robot.code)));
  let reread: PortalBinding[] | undefined;
  if (uncertainBinds.length > 0) {
    followUps.push({
      key: 'reread',
      method: 'event.get',
      params: {},
      done: (result, error) => {
        if (error) for (const ref of uncertainBinds) fail('bind', bindingLabel(ref), error);
        else reread = parseEventGet(result);
      },
    });
  }
  await runCommands(client, followUps);
  if (reread) {
    // ERROR_CORE "Unable to set event handler: …" is what the core says for a duplicate: present now → fine
    for (const ref of uncertainBinds) {
      const present = reread.some((b) =>
        ref.mode === 'online' ? b.mode === 'online' && b.event === ref.event && b.handler === ref.handler && b.authType === '0' : b.mode === 'offline' && b.event === ref.event && b.connectorId === authConnector,
      );
      if (present) report.kept.push(ref);
      else fail('bind', bindingLabel(ref), new B24Error('B24_ERR_REST', `event.bind: ERROR_CORE and the binding is not there`, { method: 'event.bind', memberId, bitrixCode: MAYBE_DUPLICATE_BIND }));
    }
  }

  log?.debug(
    {
      memberId,
      bound: report.bound.length,
      unbound: report.unbound.length,
      kept: report.kept.length,
      robotsAdded: report.robotsAdded.length,
      robotsUpdated: report.robotsUpdated.length,
    },
    'b24kit: bindings reconciled',
  );
  if (report.failures.length > 0) throw new BindingsReconcileError(report, memberId);
  return report;
}

async function runCommands(
  client: B24Client,
  commands: ReadonlyArray<{ key: string; method: string; params: Record<string, unknown>; done: (result: unknown, error: B24Error | undefined) => void }>,
): Promise<void> {
  if (commands.length === 0) return;
  const batch: BatchResult = await client.batch(
    Object.fromEntries(commands.map((command) => [command.key, [command.method, command.params] as const])),
    { idempotent: true },
  );
  for (const command of commands) command.done(batch.result[command.key], batch.errors[command.key]);
}

function bindingLabel(ref: BindingRef): string {
  return ref.mode === 'online' ? ref.event : `${ref.event} (offline)`;
}

function eventNames(names: readonly string[], where: string): string[] {
  const out = new Set<string>();
  for (const name of names) {
    if (!isEventName(name)) throw new B24Error('B24_ERR_INVALID_ARGUMENT', `${where}: ${JSON.stringify(String(name)).slice(0, 80)} is not an event name`);
    // event names are case-insensitive; the portal stores them upper-case (docs/protocol.md §3.1)
    out.add(name.toUpperCase());
  }
  return [...out];
}

function checkedAppUrl(value: string, where: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', `${where} must be an absolute http(s) URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', `${where} must be an http(s) URL without query or fragment`);
  }
  return baseUrl(value);
}

/** The app URL without trailing slashes, so `{base}/webhooks/…` has exactly one. */
function baseUrl(appUrl: string): string {
  return appUrl.replace(/\/+$/, '');
}
