/**
 * The event receiver, HTTP-free: the route (server/routes/webhooks.ts) and `app.receive()` both
 * call it, so an in-process test runs exactly what a portal's POST runs.
 *
 * validate the form → `auth[member_id]` = the URL's member_id (403 B24_ERR_MEMBER_MISMATCH) →
 * `auth[application_token]` present (401 B24_ERR_FORBIDDEN) → the portal exists AND the token
 * matches its stored one, in one query + one decrypt + one constant-time compare either way (403
 * B24_ERR_FORBIDDEN, one answer for both: no portal-existence oracle) → the portal is not
 * uninstalled (410) → dedupe key → inbox row + its jobs (one per owner's handler) in ONE transaction.
 * Every refusal happens before anything is written. An event without a job (the app declares no
 * handler for it) is answered `ignored` and stores nothing: the portal chooses the names it sends,
 * so neither the inbox nor the metric labels may grow with them (labels: declared names or `other`).
 */
import { B24Error, type ErrorCode } from '../errors.js';
import type { Json } from '../queue/types.js';
import type { PortalRegistry } from '../store/portals.js';
import type { AuthCache } from './auth-cache.js';
import { OFFLINE_NOTIFY_EVENT } from './bindings.js';
import { eventDedupeKey } from './dedupe-key.js';
import { parseEventDelivery, type EventDelivery } from './event-payload.js';
import type { InboxJob, InboxOutcome, InboxWriter } from './inbox.js';

/**
 * The framework's own events: worth a metric label of their own even when the app declares no
 * handler (ONOFFLINEEVENT: the offline queue's ping; the lifecycle events the installer handles).
 */
const FRAMEWORK_EVENTS: ReadonlySet<string> = new Set(['ONAPPINSTALL', 'ONAPPUPDATE', 'ONAPPUNINSTALL', OFFLINE_NOTIFY_EVENT]);

/** The one label of every event or robot code the app does not declare. */
export const OTHER_LABEL = 'other';

/** Counters the receiver reports to (metrics.ts); all optional. */
export interface ReceiverObserver {
  /**
   * A delivery was answered 200. `label` is a declared event name, a framework event, `robot:CODE`
   * of a declared robot, or `other`: never a name the caller made up (bounded cardinality).
   */
  accepted?(label: string, outcome: InboxOutcome['status']): void;
  /** A delivery was refused; `reason` is a code of the error registry (errors.ts). */
  rejected?(reason: ErrorCode): void;
}

export interface EventReceiverOptions {
  /** Records inbox row + job, one transaction per delivery or per group (inbox.ts). */
  writer: InboxWriter;
  portals: PortalRegistry;
  /** Remembers recent successful authentications (auth-cache.ts). @defaultValue none */
  authCache?: AuthCache;
  /**
   * The job names of an event: one per handler (the app's and each plugin's: fan-out), none when
   * nobody handles it. An event without a job is answered `ignored`, stored nowhere, and counted
   * under the label `other` (unless it is one of FRAMEWORK_EVENTS).
   */
  jobNamesFor: (event: string) => readonly string[];
  /**
   * A job of its own for a delivery, consulted before `jobNamesFor`: e.g. the ONOFFLINEEVENT ping,
   * which enqueues the portal's offline-events drain instead of a handler. @defaultValue none
   */
  jobFor?: (delivery: EventDelivery) => InboxJob | undefined;
  observer?: ReceiverObserver;
}

export interface ReceivedEvent extends InboxOutcome {
  event: string;
  dedupeKey: string;
}

export class EventReceiver {
  readonly #options: EventReceiverOptions;

  constructor(options: EventReceiverOptions) {
    this.#options = options;
  }

  /** Accepts one delivery for `urlMemberId`. Throws a B24Error carrying the HTTP status on refusal. */
  async accept(urlMemberId: string, body: unknown): Promise<ReceivedEvent> {
    try {
      const { delivery, identity } = parseEventDelivery(body);
      await authenticate(this.#options.portals, urlMemberId, identity.memberId, identity.applicationToken, this.#options.authCache);
      const dedupeKey = eventDedupeKey({
        memberId: identity.memberId,
        event: delivery.event,
        ts: delivery.ts,
        data: delivery.data,
        userId: delivery.auth.userId,
        eventId: delivery.eventId,
      });
      const own = this.#options.jobFor?.(delivery);
      const jobs: InboxJob[] = own ? [own] : this.#options.jobNamesFor(delivery.event).map((name) => ({ name, payload: delivery as unknown as Json }));
      const label = jobs.length > 0 || FRAMEWORK_EVENTS.has(delivery.event) ? delivery.event : OTHER_LABEL;
      if (jobs.length === 0) {
        // a row per made-up name would let one token grow the inbox without bound: count it only
        this.#options.observer?.accepted?.(label, 'ignored');
        return { status: 'ignored', event: delivery.event, dedupeKey };
      }
      const outcome = await this.#options.writer.record({ memberId: identity.memberId, dedupeKey, event: delivery.event, jobs });
      this.#options.observer?.accepted?.(label, outcome.status);
      return { ...outcome, event: delivery.event, dedupeKey };
    } catch (error) {
      this.#options.observer?.rejected?.(error instanceof B24Error ? error.code : 'B24_ERR_INTERNAL');
      throw error;
    }
  }
}

/**
 * The checks every inbound portal call (event, robot) passes, in this order, before anything is
 * stored:
 * 1. `:memberId` ≠ `auth[member_id]` → 403 B24_ERR_MEMBER_MISMATCH (the request alone decides);
 * 2. no application_token → 401 B24_ERR_FORBIDDEN (the request alone decides);
 * 3. unknown portal OR wrong token → 403 B24_ERR_FORBIDDEN, the same message, the same work
 *    (PortalRegistry.checkApplicationToken): a caller without the secret cannot tell which
 *    member_ids are installed;
 * 4. right token, portal uninstalled → 410 B24_ERR_PORTAL_UNINSTALLED (the caller proved the secret).
 */
export async function authenticate(
  portals: PortalRegistry,
  urlMemberId: string,
  payloadMemberId: string,
  applicationToken: string | undefined,
  cache?: AuthCache,
): Promise<void> {
  // a handler URL names its portal; a payload for another one is misrouted or an IDOR attempt
  if (urlMemberId !== payloadMemberId) throw new B24Error('B24_ERR_MEMBER_MISMATCH');
  if (!applicationToken) throw new B24Error('B24_ERR_FORBIDDEN', 'auth[application_token] is missing', { status: 401, memberId: urlMemberId });
  // the cache holds successes only: a hit needs the right token, so it tells a stranger nothing
  let state = cache?.get(urlMemberId, applicationToken);
  if (state === undefined) {
    const checked = await portals.checkApplicationToken(urlMemberId, applicationToken);
    if (!checked.ok) throw new B24Error('B24_ERR_FORBIDDEN', 'application_token does not match the stored one', { memberId: urlMemberId });
    state = checked.portal.state;
    cache?.set(urlMemberId, applicationToken, state);
  }
  if (state === 'uninstalled') throw new B24Error('B24_ERR_PORTAL_UNINSTALLED', undefined, { memberId: urlMemberId });
}

export type { EventDelivery };
