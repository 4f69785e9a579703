/**
 * The worker's handler map: every declared event, job, schedule and robot becomes a job type
 * (job-names.ts) whose runner checks the portal (portal-gate.ts), builds the handler's context
 * and calls the user's handler. The worker records the outcome (queue/worker.ts).
 */
import type { Logger as PinoLogger } from 'pino';
import type { EventDelivery } from '../events/event-payload.js';
import type { InboxWriter } from '../events/inbox.js';
import type { JobContext, JobHandler } from '../queue/index.js';
import type { ScheduledJobPayload } from '../scheduler/fire.js';
import type { PortalInfo, PortalRegistry } from '../store/portals.js';
import type { Store } from '../store/types.js';
import type { PortalClients } from './clients.js';
import type { AppDefinitions } from './definitions.js';
import { jobNames } from './job-names.js';
import type { AppMetrics } from './metrics.js';
import { runOfflineDrain } from './offline-events.js';
import { runOnce } from './once.js';
import { requireRunnablePortal } from './portal-gate.js';
import { sendRobotResult } from '../robots/reply.js';
import type { OfflineEventsConfig } from './settings.js';
import type { HandlerContext, PortalView, RobotCall } from './types.js';

export interface HandlerServices {
  store: Store;
  portals: PortalRegistry;
  clients: PortalClients;
  logger: PinoLogger;
  metrics: AppMetrics;
  nowMs: () => number;
  /** The receiver's inbox writer: the offline drain records through it. */
  inbox: InboxWriter;
  offline: OfflineEventsConfig;
  /** The settings accessor of a portal and namespace. */
  settings: (memberId: string, namespace: string) => HandlerContext['settings'];
}

type Kind = 'event' | 'job' | 'schedule' | 'robot' | 'offline-drain';
type AnyHandler = JobHandler<never, unknown>;

export function buildWorkerHandlers(definitions: AppDefinitions, services: HandlerServices): Record<string, AnyHandler> {
  const handlers: Record<string, AnyHandler> = {};
  for (const [event, handler] of definitions.events) {
    handlers[jobNames.event(event)] = runner(services, 'event', (job) => ({ event: job.payload as EventDelivery }), (ctx) => handler(ctx), { event });
  }
  for (const [name, { handler }] of definitions.jobs) {
    handlers[jobNames.job(name)] = runner(services, 'job', (job) => ({ payload: job.payload as never }), (ctx) => handler(ctx));
  }
  for (const [name, entry] of definitions.schedules) {
    handlers[jobNames.schedule(name)] = runner(services, 'schedule', (job) => ({ schedule: job.payload as ScheduledJobPayload }), (ctx) => entry.handler(ctx), {
      schedule: name,
    });
  }
  for (const [code, { handler }] of definitions.robots) {
    handlers[jobNames.robot(code)] = runner(
      services,
      'robot',
      (job) => ({ robot: job.payload as RobotCall }),
      async (ctx) => {
        const values = (await handler(ctx)) ?? {};
        if (!ctx.robot.useSubscription) return values;
        // the answer closes the robot's step (protocol §7.3); once: a retried job does not send it twice
        await ctx.once('b24kit:bizproc.event.send', async () => {
          await sendRobotResult(ctx.b24, { eventToken: ctx.robot.eventToken, returnValues: values }, { signal: ctx.signal, logger: ctx.log });
          return true;
        });
        return values;
      },
      { robot: code },
    );
  }
  if (definitions.offlineEvents.size > 0) {
    // pings and schedule slots enqueue the same job type; its payload is only a note of the trigger
    handlers[jobNames.offlineDrain] = runner(services, 'offline-drain', () => ({}), async (ctx) => {
      const report = await runOfflineDrain(ctx, { inbox: services.inbox, definitions, config: services.offline });
      return { ...report };
    });
  }
  return handlers;
}

function runner<X extends object>(
  services: HandlerServices,
  kind: Kind,
  extra: (job: JobContext['job']) => X,
  call: (ctx: HandlerContext & X) => unknown,
  logFields: Record<string, string> = {},
): AnyHandler {
  return (async (jobContext: JobContext) => {
    const { job } = jobContext;
    const portal = await requireRunnablePortal(services.portals, job.memberId);
    const log = services.logger.child({ memberId: job.memberId, jobId: job.id, job: job.name, attempt: jobContext.attempt, ...logFields });
    const ctx: HandlerContext & X = {
      portal: view(portal),
      settings: services.settings(job.memberId, 'app'),
      b24: services.clients.get(job.memberId),
      log,
      once: (key, fn) => runOnce({ store: services.store, jobId: job.id, memberId: job.memberId, nowMs: services.nowMs }, key, fn),
      job: { id: job.id, name: job.name, attempt: jobContext.attempt, key: job.key },
      signal: jobContext.signal,
      ...extra(job),
    };
    const stopTimer = services.metrics.handlerSeconds.startTimer({ kind });
    try {
      const result = await call(ctx);
      services.metrics.jobRuns.inc({ kind, outcome: 'ok' });
      log.debug({}, `${kind} handler done`);
      return result === undefined ? null : result;
    } catch (error) {
      services.metrics.jobRuns.inc({ kind, outcome: 'error' });
      throw error;
    } finally {
      stopTimer();
    }
  }) as AnyHandler;
}

function view(portal: PortalInfo): PortalView {
  return {
    memberId: portal.memberId,
    domain: portal.domain,
    clientEndpoint: portal.clientEndpoint,
    scope: portal.scope,
    status: portal.status,
    state: portal.state,
  };
}
