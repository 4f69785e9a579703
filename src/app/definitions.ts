/**
 * What an app declares: event handlers, jobs, schedules, robots. Plain data, filled before
 * start; the worker, the scheduler, the receiver and the bindings read it. One handler per event
 * (a job runs one handler, so a failing second handler never re-runs the first one's effects).
 * An event is bound online or (`{offline: true}`) offline, never both.
 */
import { B24Error } from '../errors.js';
import { OFFLINE_NOTIFY_EVENT } from '../events/bindings.js';
import { validateRobotDefinition } from '../robots/definition.js';
import { EVENT_NAME, JOB_NAME, RESERVED_PREFIX, ROBOT_CODE, jobNames } from './job-names.js';
import type { EventHandler, EventOptions, JobOptions, RobotDefinition, RobotHandler, ScheduleDefinitionOptions, ScheduleHandler, UserJobHandler } from './types.js';

export interface ScheduleEntry {
  name: string;
  cron: string;
  handler: ScheduleHandler;
  options: ScheduleDefinitionOptions;
}

export class AppDefinitions {
  readonly events = new Map<string, EventHandler>();
  /** The events of `events` bound offline (drained from the portal's offline queue). */
  readonly offlineEvents = new Set<string>();
  readonly jobs = new Map<string, { handler: UserJobHandler<never>; options: JobOptions }>();
  readonly schedules = new Map<string, ScheduleEntry>();
  readonly robots = new Map<string, { definition: RobotDefinition; handler: RobotHandler }>();

  on(event: string, handler: EventHandler, options: EventOptions = {}): void {
    check(EVENT_NAME.test(event), `event name "${event}" is malformed`);
    const name = event.toUpperCase();
    check(!this.events.has(name), `a handler for ${name} is already registered`);
    check(typeof handler === 'function', `the handler of ${name} is not a function`);
    const offline = options.offline === true;
    // ONOFFLINEEVENT is the offline queue's ping: it cannot be offline itself (protocol §3.6), and
    // once offline events are declared the framework answers it with a drain
    check(!(name === OFFLINE_NOTIFY_EVENT && offline), `${OFFLINE_NOTIFY_EVENT} cannot be bound offline (protocol §3.6)`);
    check(!(name === OFFLINE_NOTIFY_EVENT && this.offlineEvents.size > 0), `${OFFLINE_NOTIFY_EVENT} is handled by the framework when offline events are declared`);
    check(!(offline && this.events.has(OFFLINE_NOTIFY_EVENT)), `offline events need ${OFFLINE_NOTIFY_EVENT} for the framework: remove its handler`);
    this.events.set(name, handler);
    if (offline) this.offlineEvents.add(name);
  }

  /** Events bound online (every declared event but the offline ones). */
  onlineEvents(): string[] {
    return [...this.events.keys()].filter((name) => !this.offlineEvents.has(name));
  }

  job(name: string, handler: UserJobHandler<never>, options: JobOptions = {}): void {
    check(JOB_NAME.test(name), `job name "${name}" is malformed ([A-Za-z0-9._:-], at most 100)`);
    check(!this.jobs.has(name), `job ${name} is already registered`);
    check(typeof handler === 'function', `the handler of job ${name} is not a function`);
    this.jobs.set(name, { handler, options });
  }

  schedule(name: string, cron: string, handler: ScheduleHandler, options: ScheduleDefinitionOptions = {}): void {
    check(JOB_NAME.test(name), `schedule name "${name}" is malformed ([A-Za-z0-9._:-], at most 100)`);
    check(!name.startsWith(RESERVED_PREFIX), `schedule names starting with ${RESERVED_PREFIX} are the framework's`);
    check(!this.schedules.has(name), `schedule ${name} is already registered`);
    check(typeof handler === 'function', `the handler of schedule ${name} is not a function`);
    this.schedules.set(name, { name, cron, handler, options });
  }

  robot(definition: RobotDefinition, handler: RobotHandler): void {
    check(typeof definition?.code === 'string' && ROBOT_CODE.test(definition.code), `robot code "${String(definition?.code)}" is malformed ([a-zA-Z0-9._-])`);
    check(!this.robots.has(definition.code), `robot ${definition.code} is already registered`);
    check(definition.name !== undefined && definition.name !== '', `robot ${definition.code} needs a name`);
    check(typeof handler === 'function', `the handler of robot ${definition.code} is not a function`);
    validateRobotDefinition(definition); // the robots module's rules (B24_ERR_INVALID_ARGUMENT)
    this.robots.set(definition.code, { definition, handler });
  }

  /** The job name of an event, or undefined when no handler is registered for it. */
  jobNameForEvent(event: string): string | undefined {
    const name = event.toUpperCase();
    return this.events.has(name) ? jobNames.event(name) : undefined;
  }

  /** The job name of a robot call, or undefined for an unknown code. */
  jobNameForRobot(code: string): string | undefined {
    return this.robots.has(code) ? jobNames.robot(code) : undefined;
  }
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new B24Error('B24_ERR_APP_DEFINITION', message);
}
