/**
 * Robot calls (`POST /robots/:memberId/:code`, protocol §7.2): validated like events
 * (events/receiver.ts `authenticate`), keyed by the run's event_token, recorded in the inbox and
 * enqueued in one transaction, acknowledged after the commit. The handler's return values go back
 * with bizproc.event.send from the worker (handlers.ts).
 */
import { B24Error } from '../errors.js';
import { robotDedupeKey } from '../events/dedupe-key.js';
import type { AuthCache } from '../events/auth-cache.js';
import type { InboxWriter } from '../events/inbox.js';
import { authenticate, type ReceivedEvent, type ReceiverObserver } from '../events/receiver.js';
import type { Json } from '../queue/types.js';
import type { PortalRegistry } from '../store/portals.js';
import { ROBOT_CODE } from './job-names.js';
import { parseRobotCall } from './robot-call.js';

export interface RobotReceiverOptions {
  writer: InboxWriter;
  portals: PortalRegistry;
  authCache?: AuthCache;
  jobNameFor: (code: string) => string | undefined;
  observer?: ReceiverObserver;
}

export class RobotReceiver {
  constructor(private readonly options: RobotReceiverOptions) {}

  async accept(urlMemberId: string, code: string, body: unknown): Promise<ReceivedEvent> {
    try {
      if (!ROBOT_CODE.test(code)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The robot code in the URL is malformed', { status: 400 });
      const { call, identity } = parseRobotCall(code, body);
      await authenticate(this.options.portals, urlMemberId, identity.memberId, identity.applicationToken, this.options.authCache);
      const dedupeKey = robotDedupeKey({ memberId: identity.memberId, code, eventToken: call.eventToken });
      const jobName = this.options.jobNameFor(code);
      const event = `robot:${code}`;
      const outcome = await this.options.writer.record({
        memberId: identity.memberId,
        dedupeKey,
        event,
        ...(jobName ? { job: { name: jobName, payload: call as unknown as Json } } : {}),
      });
      this.options.observer?.accepted?.(event, outcome.status);
      return { ...outcome, event, dedupeKey };
    } catch (error) {
      this.options.observer?.rejected?.(error instanceof B24Error ? error.code : 'B24_ERR_INTERNAL');
      throw error;
    }
  }
}
