/**
 * Robot calls (`POST /robots/:memberId/:code`, docs/protocol.md §7.2): read by the robots module's
 * `parseRobotRequest` (every field checked, the URL's member_id and code matched), authenticated
 * like events (events/receiver.ts `authenticate`), keyed by `robotCallDedupeKey` (workflow_id +
 * event_token: one key per execution), stripped of its tokens (`robotCallRecord`), recorded in
 * the inbox and enqueued in one transaction, acknowledged after the commit. The handler's return
 * values go back with bizproc.event.send from the worker (handlers.ts).
 * A code the app does not declare (`app.robot`) is answered 200 `ignored` after authentication and
 * stores nothing; its metric label is `other`, so made-up codes grow neither the inbox nor /metrics.
 */
import { B24Error } from '../errors.js';
import type { AuthCache } from '../events/auth-cache.js';
import type { InboxWriter } from '../events/inbox.js';
import { authenticate, OTHER_LABEL, type ReceivedEvent, type ReceiverObserver } from '../events/receiver.js';
import type { Json } from '../queue/types.js';
import type { PortalRegistry } from '../store/portals.js';
import { isRecord } from '../oauth/install-payload.js';
import { parseRobotRequest, robotCallDedupeKey, robotCallRecord } from '../robots/robot-request.js';
import { ROBOT_CODE } from './job-names.js';

export interface RobotReceiverOptions {
  writer: InboxWriter;
  portals: PortalRegistry;
  authCache?: AuthCache;
  /** The job name of a declared robot code, or undefined: the call is then answered `ignored` and stored nowhere. */
  jobNameFor: (code: string) => string | undefined;
  observer?: ReceiverObserver;
}

export class RobotReceiver {
  constructor(private readonly options: RobotReceiverOptions) {}

  async accept(urlMemberId: string, code: string, body: unknown): Promise<ReceivedEvent> {
    try {
      if (!ROBOT_CODE.test(code)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The robot code in the URL is malformed');
      if (!isRecord(body)) throw new B24Error('B24_ERR_BAD_REQUEST', 'Not a robot call: no form body');
      const call = parseRobotRequest(body, { memberId: urlMemberId, code });
      await authenticate(this.options.portals, urlMemberId, call.auth.memberId, call.auth.applicationToken, this.options.authCache);
      const dedupeKey = robotCallDedupeKey(call);
      const jobName = this.options.jobNameFor(code);
      const event = `robot:${code}`;
      if (!jobName) {
        this.options.observer?.accepted?.(OTHER_LABEL, 'ignored');
        return { status: 'ignored', event, dedupeKey };
      }
      const outcome = await this.options.writer.record({
        memberId: call.auth.memberId,
        dedupeKey,
        event,
        // tokens never reach the store: the job payload is the call without its secrets
        job: { name: jobName, payload: robotCallRecord(call) as unknown as Json },
      });
      this.options.observer?.accepted?.(event, outcome.status);
      return { ...outcome, event, dedupeKey };
    } catch (error) {
      this.options.observer?.rejected?.(error instanceof B24Error ? error.code : 'B24_ERR_INTERNAL');
      throw error;
    }
  }
}
