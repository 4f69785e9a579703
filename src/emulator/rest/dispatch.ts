import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import { scopeGranted, type AuthContext, type MethodResult, type Params } from '../methods/registry.js';
import { RestError, restErrors } from '../rest-error.js';
import { tryAdd } from '../limits/leaky-bucket.js';
import { commandCostMs, newCommandWork } from '../limits/cost-model.js';
import { restTime, type RestTime } from './time.js';
import type { CostModel } from '../options.js';

/** Commands one batch runs; later ones fail with ERROR_BATCH_LENGTH_EXCEEDED (docs/protocol.md §5.3). */
export const BATCH_MAX_LENGTH = 50;

export interface RestRequest {
  portal: Portal;
  /** The path after `/rest/`: `crm.deal.add.json` or `{user}/{code}/crm.deal.add`. */
  path: string;
  params: Params;
  /** Token from `Authorization: Bearer …`. */
  bearer?: string;
}

export interface RestResponse {
  status: number;
  body: unknown;
  /** Real time the answer must be held back, from the cost model. */
  delayMs: number;
}

/** Params the core consumes before a method sees them (docs/protocol.md §4.1). */
const RESERVED_PARAMS = ['auth', 'access_token', 'auth_connector', 'state'] as const;

export type CommandOutcome =
  | { ok: true; result: MethodResult; time: RestTime; costMs: number }
  | { ok: false; error: RestError; time?: RestTime; costMs: number };

/** Handles one REST request to a portal: auth, the leaky bucket, then the command. */
export async function dispatchRest(emulator: Emulator, request: RestRequest): Promise<RestResponse> {
  const { portal } = request;
  portal.stats.requests += 1;
  try {
    if (portal.deleted) throw restErrors.portalDeleted();
    const { method, auth, params, authConnector } = authenticate(emulator, request);
    const definition = emulator.methods.get(method);
    if (!definition) throw restErrors.methodNotFound();

    const billed = method === 'batch' && emulator.options.batchBilling === 'per-command' ? batchSize(params) : 1;
    const countRefused = portal.limits.countRefusedRequests ?? emulator.options.countRefusedRequests;
    if (!tryAdd(portal.bucket, emulator.clock.nowMs(), portal.limits, billed, countRefused)) {
      portal.stats.rateLimitRejections += 1;
      throw restErrors.queryLimitExceeded();
    }

    const outcome = await executeCommand(emulator, portal, auth, method, params, authConnector);
    if (!outcome.ok) return reply(portal, outcome.error.status, outcome.error.toBody(), outcome.costMs);
    const body: Record<string, unknown> = { result: outcome.result.result };
    if (outcome.result.total !== undefined) body.total = outcome.result.total;
    if (outcome.result.next !== undefined) body.next = outcome.result.next;
    body.time = outcome.time;
    return reply(portal, 200, body, outcome.costMs);
  } catch (error) {
    const restError = error instanceof RestError ? error : restErrors.internal();
    return reply(portal, restError.status, restError.toBody(), 0);
  }
}

/**
 * Runs one command for an authenticated caller: access checks, the per-method operating budget,
 * the handler, and the bill. `batch` calls this for each of its commands, passing `startMs` so its
 * commands follow one another on the emulator's time line.
 */
export async function executeCommand(
  emulator: Emulator,
  portal: Portal,
  auth: AuthContext,
  method: string,
  params: Params,
  authConnector = '',
  startMs = emulator.clock.nowMs(),
): Promise<CommandOutcome> {
  const definition = emulator.methods.get(method);
  if (!definition) return { ok: false, error: restErrors.methodNotFound(), costMs: 0 };
  const key = method.toLowerCase();
  try {
    if (definition.appContextOnly && auth.kind !== 'oauth') throw restErrors.wrongAuthType();
    if (!scopeGranted(definition.scope, auth.scope)) throw restErrors.insufficientScope(auth.kind);
    if (definition.adminOnly && !portal.users.get(auth.userId)?.ADMIN) throw restErrors.accessDenied();
    // "above the limit, the next call of that method" is refused; the call that crosses it still runs
    if (portal.operating.exhausted(key, startMs, portal.limits.operatingLimitSeconds)) {
      portal.stats.operatingRejections += 1;
      throw restErrors.operationTimeLimit(method);
    }
  } catch (error) {
    return { ok: false, error: error as RestError, costMs: 0 };
  }

  // the outer batch is not a command of its own: its sub-commands are counted
  if (key !== 'batch') portal.stats.commands += 1;
  portal.stats.byMethod[key] = (portal.stats.byMethod[key] ?? 0) + 1;
  const work = newCommandWork();
  let result: MethodResult | undefined;
  let failure: RestError | undefined;
  const handlerStarted = performance.now();
  try {
    result = await definition.handler({ emulator, portal, auth, params, method: key, work, nowMs: startMs, authConnector });
  } catch (error) {
    failure = error instanceof RestError ? error : restErrors.internal();
  }
  // a real portal's duration and processing are measured doubles, never a bare 0. A cost model, when
  // set, stands for the server's time (and stays the same on every machine); without one (the zero
  // model of tests) the handler's real time is reported. Billing (operating, the budget, the delay)
  // follows the model alone.
  const measuredMs = hasCost(portal.cost) ? 0 : performance.now() - handlerStarted;
  // a batch bills its commands to their own methods; the outer call costs nothing (docs/protocol.md §5.2)
  const ownMs = key === 'batch' ? 0 : commandCostMs(portal.cost, work);
  portal.operating.add(key, startMs, ownMs / 1000);
  const costMs = ownMs + work.nestedMs;
  const time = restTime({
    startMs,
    finishMs: startMs + costMs + measuredMs,
    processingMs: ownMs + measuredMs,
    operatingSeconds: portal.operating.used(key, startMs),
    operatingResetAt: portal.operating.resetAt(key, startMs),
    timeZone: portal.timeZone,
  });
  if (failure) return { ok: false, error: failure, time, costMs };
  return { ok: true, result: result as MethodResult, time, costMs };
}

function hasCost(model: CostModel): boolean {
  return model.readMs > 0 || model.writeMs > 0 || model.perRowMs > 0 || model.countMsPerMillionRows > 0;
}

interface Authenticated {
  method: string;
  auth: AuthContext;
  params: Params;
  authConnector: string;
}

function authenticate(emulator: Emulator, request: RestRequest): Authenticated {
  const { portal } = request;
  const segments = request.path.split('/').filter(Boolean);
  const params: Params = { ...request.params };
  const token = request.bearer ?? stringParam(params.auth) ?? stringParam(params.access_token);
  const authConnector = stringParam(params.auth_connector) ?? '';
  for (const name of RESERVED_PARAMS) delete params[name];

  if (segments.length === 3 && /^\d+$/.test(segments[0]!)) {
    const [userId, code, rawMethod] = segments as [string, string, string];
    const webhook = portal.webhooks.get(code);
    if (!webhook || webhook.userId !== Number(userId)) throw restErrors.noAuth();
    return { method: methodName(rawMethod), auth: { kind: 'webhook', userId: webhook.userId, scope: webhook.scope }, params, authConnector };
  }
  if (segments.length !== 1) throw restErrors.methodNotFound();
  const method = methodName(segments[0]!);
  if (!token) throw restErrors.noAuth();
  const check = emulator.tokens.check(token);
  if (!check.ok) throw check.reason === 'expired' ? restErrors.expiredToken() : restErrors.invalidToken();
  if (check.record.memberId !== portal.memberId || !portal.app) throw restErrors.invalidToken();
  return {
    method,
    auth: { kind: 'oauth', userId: check.record.userId, scope: check.record.scope, accessToken: token },
    params,
    authConnector,
  };
}

/** `crm.deal.add.json` → `crm.deal.add` (the suffix selects the format, docs/protocol.md §4.1). */
function methodName(raw: string): string {
  const lower = raw.toLowerCase();
  if (lower.endsWith('.xml')) throw restErrors.invalidRequest('The emulator answers JSON only; drop the .xml suffix');
  return lower.endsWith('.json') ? lower.slice(0, -'.json'.length) : lower;
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Commands a batch will run, for `batchBilling: 'per-command'` (at most 50 run, docs/protocol.md §5.3). */
function batchSize(params: Params): number {
  const entry = Object.entries(params).find(([name]) => name.toLowerCase() === 'cmd');
  const cmd = entry?.[1];
  if (!cmd || typeof cmd !== 'object') return 1;
  const strings = Object.values(cmd).filter((call) => typeof call === 'string').length;
  return Math.min(BATCH_MAX_LENGTH, Math.max(1, strings));
}

function reply(portal: Portal, status: number, body: unknown, delayMs: number): RestResponse {
  portal.countStatus(status);
  return { status, body, delayMs };
}
