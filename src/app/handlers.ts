/**
 * The worker's handler map: every declared event, job, schedule and robot becomes a job type
 * (job-names.ts) whose runner checks the portal (portal-gate.ts), builds the handler's context
 * and calls the user's handler. The worker records the outcome (queue/worker.ts).
 */
import type { Logger as PinoLogger } from 'pino';
import type { EventDelivery } from '../events/event-payload.js';
import { NonRetryableError, type BatchJobContext, type BatchJobType, type JobContext, type JobHandler } from '../queue/index.js';
import type { ScheduledJobPayload } from '../scheduler/fire.js';
import type { PortalRegistry } from '../store/portals.js';
import type { Store } from '../store/types.js';
import type { PortalClients } from './clients.js';
import { APP_OWNER, type AppDefinitions } from './definitions.js';
import { jobNames } from './job-names.js';
import type { AppSignal } from './kit.js';
import { runOnce } from './once.js';
import { requireRunnablePortal } from './portal-gate.js';
import type { PortalValues } from './portal-values.js';
import { portalView } from './portal-view.js';
import { sendRobotResult } from '../robots/reply.js';
import { isFinalRobotFailure, robotFailureMessage } from '../robots/failure.js';
import type { BatchJobHandlerContext, HandlerContext, RobotCall, UserBatchJobHandler, UserJobHandler } from './types.js';

export interface HandlerServices {
  store: Store;
  portals: PortalRegistry;
  clients: PortalClients;
  logger: PinoLogger;
  nowMs: () => number;
  values: PortalValues;
  signal: (signal: AppSignal) => void;
}

type Kind = 'event' | 'job' | 'schedule' | 'robot';
type AnyHandler = JobHandler<never, unknown>;

export function buildWorkerHandlers(definitions: AppDefinitions, services: HandlerServices): Record<string, AnyHandler> {
  const handlers: Record<string, AnyHandler> = {};
  for (const [event, entries] of definitions.events) {
    for (const { handler, owner, jobName } of entries) {
      handlers[jobName] = runner(services, 'event', owner, (job) => ({ event: job.payload as EventDelivery }), (ctx) => handler(ctx as never), { event, ...(owner !== APP_OWNER ? { plugin: owner } : {}) });
    }
    // before fan-out a plugin's event ran as `event:NAME`: a job of that name queued then (or
    // retrying) still finds its handler, as long as the app has none of its own and one plugin does.
    // With several plugins it cannot say whose it was: it ends dead, visibly, instead of waiting forever.
    const legacy = jobNames.event(event);
    if (handlers[legacy] === undefined && entries.length === 1) handlers[legacy] = handlers[entries[0]!.jobName]!;
    else if (handlers[legacy] === undefined) {
      const owners = entries.map((entry) => entry.owner).join(', ');
      handlers[legacy] = () => {
        throw new NonRetryableError(`${legacy} was queued before each plugin's event had a job of its own, and ${owners} all handle ${event} now: whose it was cannot be told, so it ends here (its payload holds the delivery)`);
      };
    }
  }
  for (const [name, { handler, owner, options }] of definitions.jobs) {
    if (options.batch) continue; // buildBatchHandlers
    handlers[jobNames.job(name)] = runner(services, 'job', owner, (job) => ({ payload: job.payload as never }), (ctx) => (handler as UserJobHandler<never, never>)(ctx as never));
  }
  for (const [name, entry] of definitions.schedules) {
    handlers[jobNames.schedule(name)] = runner(services, 'schedule', entry.owner, (job) => ({ schedule: job.payload as ScheduledJobPayload }), (ctx) => entry.handler(ctx as never), {
      schedule: name,
    });
  }
  for (const [code, { handler, owner }] of definitions.robots) {
    handlers[jobNames.robot(code)] = runner(
      services,
      'robot',
      owner,
      (job) => ({ robot: job.payload as RobotCall }),
      async (ctx, job) => {
        let values: Awaited<ReturnType<typeof handler>>;
        try {
          values = (await handler(ctx as never)) ?? {};
        } catch (error) {
          // failed for good: answer with the error, or the workflow waits in `running` (robots/failure.ts)
          if (ctx.robot.useSubscription && isFinalRobotFailure(error, ctx.job.attempt, job.maxAttempts)) {
            await ctx.once('b24kit:bizproc.event.send', async () => {
              await sendRobotResult(ctx.b24, { eventToken: ctx.robot.eventToken, returnValues: {}, logMessage: robotFailureMessage(error) }, { signal: ctx.signal, logger: ctx.log });
              return true;
            });
            ctx.log.warn({ err: error }, 'robot failed for good: answered the workflow with the error');
          }
          throw error;
        }
        if (!ctx.robot.useSubscription) return values;
        // the answer closes the robot's step (docs/protocol.md §7.3); once: a retried job does not send it twice
        await ctx.once('b24kit:bizproc.event.send', async () => {
          await sendRobotResult(ctx.b24, { eventToken: ctx.robot.eventToken, returnValues: values }, { signal: ctx.signal, logger: ctx.log });
          return true;
        });
        return values;
      },
      { robot: code },
    );
  }
  return handlers;
}

function runner<X extends object>(
  services: HandlerServices,
  kind: Kind,
  owner: string,
  extra: (job: JobContext['job']) => X,
  call: (ctx: HandlerContext & X, job: JobContext['job']) => unknown,
  logFields: Record<string, string> = {},
): AnyHandler {
  return (async (jobContext: JobContext) => {
    const { job } = jobContext;
    const portal = await requireRunnablePortal(services.portals, job.memberId);
    const log = services.logger.child({ memberId: job.memberId, jobId: job.id, job: job.name, attempt: jobContext.attempt, ...logFields });
    const ctx: HandlerContext & X = {
      portal: portalView(portal),
      settings: services.values.for(job.memberId, owner),
      b24: services.clients.get(job.memberId),
      log,
      once: (key, fn) => runOnce({ store: services.store, jobId: job.id, memberId: job.memberId, nowMs: services.nowMs }, key, fn),
      job: { id: job.id, name: job.name, attempt: jobContext.attempt, key: job.key },
      signal: jobContext.signal,
      store: services.store,
      ...extra(job),
    };
    const started = performance.now();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const result = await call(ctx, job);
      outcome = 'ok';
      log.debug({}, `${kind} handler done`);
      return result === undefined ? null : result;
    } finally {
      services.signal({ type: 'handler', kind, outcome, seconds: (performance.now() - started) / 1000 });
    }
  }) as AnyHandler;
}

/** The worker's batch job types: every job declared with `{ batch: { max } }`. */
export function buildBatchHandlers(definitions: AppDefinitions, services: HandlerServices): Record<string, BatchJobType> {
  const types: Record<string, BatchJobType> = {};
  for (const [name, { handler, owner, options }] of definitions.jobs) {
    if (!options.batch) continue;
    types[jobNames.job(name)] = { size: options.batch.max, handler: batchRunner(services, owner, handler as UserBatchJobHandler<never, never>) };
  }
  return types;
}

/** One portal's context for a batch (its jobs are all of one portal: claim-batch.ts). */
function batchRunner(services: HandlerServices, owner: string, handler: UserBatchJobHandler<never, never>): BatchJobType['handler'] {
  return async (batch: BatchJobContext<never>) => {
    const lead = batch.jobs[0]!;
    const portal = await requireRunnablePortal(services.portals, lead.memberId);
    const ctx: BatchJobHandlerContext<never, never> = {
      portal: portalView(portal),
      settings: services.values.for(lead.memberId, owner) as never,
      b24: services.clients.get(lead.memberId),
      log: services.logger.child({ memberId: lead.memberId, job: lead.name, jobIds: batch.jobs.map((job) => job.id) }),
      signal: batch.signal,
      store: services.store,
      items: batch.jobs.map((job) => ({ job: { id: job.id, name: job.name, attempt: job.attempts, key: job.key }, payload: job.payload })),
    };
    const started = performance.now();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const outcomes = await handler(ctx);
      outcome = 'ok';
      return outcomes;
    } finally {
      services.signal({ type: 'handler', kind: 'job', outcome, seconds: (performance.now() - started) / 1000 });
    }
  };
}
