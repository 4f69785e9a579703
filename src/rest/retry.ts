/**
 * Retry policy: the one backoff function every retry path uses, and which methods may be sent
 * again when their first attempt's outcome is unknown.
 */

export interface BackoffPolicy {
  /** Attempts in all, the first one included. @defaultValue 5 */
  maxAttempts: number;
  /** Ceiling of the first retry's delay, in ms. @defaultValue 500 */
  baseMs: number;
  /** Largest delay of any retry, in ms. @defaultValue 30000 */
  capMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({ maxAttempts: 5, baseMs: 500, capMs: 30_000 });

/**
 * The delay before retry number `attempt` (1 = the first retry), in ms: exponential with full
 * jitter (uniform in [0, min(cap, base·2^(attempt−1))]), so that clients that failed together do
 * not come back together. Undefined when no retry is left: `attempt` reached `maxAttempts`, or
 * the delay would not end before the overall deadline (`remainingMs` from now).
 */
export function backoffMs(
  attempt: number,
  policy: BackoffPolicy,
  remainingMs = Number.POSITIVE_INFINITY,
  random: () => number = Math.random,
): number | undefined {
  if (attempt < 1 || attempt >= policy.maxAttempts) return undefined;
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  const delay = Math.floor(random() * ceiling);
  return delay < remainingMs ? delay : undefined;
}

/**
 * - `read`: no effect on the portal; retried after timeouts, network errors and 5xx.
 * - `idempotent`: a second application leaves the same state (`*.update`, `*.delete`, `*.set`);
 *   retried like reads. A retried delete whose first attempt did apply answers "Not found".
 * - `unsafe`: `*.add` and anything not known to be safe; never sent again once it may have
 *   reached the portal — the caller gets B24_ERR_OUTCOME_UNKNOWN and must look before retrying
 *   (docs/protocol.md §6.3, §8.3).
 */
export type MethodSafety = 'read' | 'idempotent' | 'unsafe';

const READ_METHODS = new Set([
  'user.current',
  'user.search',
  'user.access',
  'profile',
  'app.info',
  'scope',
  'methods',
  'method.get',
  'server.time',
  'access.name',
  'feature.get',
  'events',
  'event.offline.list',
  'crm.duplicate.findbycomm',
  'crm.status.entity.items',
  'crm.status.entity.types',
  'crm.enum.fields',
  'crm.multifield.fields',
  'placement.list',
  'bizproc.robot.list',
  'bizproc.activity.list',
]);
const READ_SUFFIXES = ['.get', '.list', '.fields', '.getlist', '.getfields', '.count', '.search', '.settings.get', '.option.get'];
const IDEMPOTENT_SUFFIXES = ['.update', '.delete', '.set'];

/** How safe it is to send `method` again (see {@link MethodSafety}). Case-insensitive. */
export function methodSafety(method: string): MethodSafety {
  const name = method.toLowerCase();
  if (READ_METHODS.has(name) || READ_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'read';
  if (IDEMPOTENT_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'idempotent';
  return 'unsafe';
}

/** The safety of a batch: the least safe of its commands. */
export function batchSafety(methods: Iterable<string>): MethodSafety {
  let worst: MethodSafety = 'read';
  for (const method of methods) {
    const safety = methodSafety(method);
    if (safety === 'unsafe') return 'unsafe';
    if (safety === 'idempotent') worst = 'idempotent';
  }
  return worst;
}
