/**
 * What an app declares: event handlers, jobs, schedules, robots. Plain data, filled before
 * start; the worker, the scheduler, the receiver and the bindings read it. One handler per event
 * (a job runs one handler, so a failing second handler never re-runs the first one's effects).
 */
import { B24Error } from '../errors.js';
import { validateRobotDefinition } from '../robots/definition.js';
import { EVENT_NAME, JOB_NAME, ROBOT_CODE, jobNames } from './job-names.js';
import type { EventHandler, JobOptions, RobotDefinition, RobotHandler, ScheduleDefinitionOptions, ScheduleHandler, UserJobHandler } from './types.js';

export interface ScheduleEntry {
  name: string;
  cron: string;
  handler: ScheduleHandler;
  options: ScheduleDefinitionOptions;
}

export class AppDefinitions {
  readonly events = new Map<string, EventHandler>();
  readonly jobs = new Map<string, { handler: UserJobHandler<never>; options: JobOptions }>();
  readonly schedules = new Map<string, ScheduleEntry>();
  readonly robots = new Map<string, { definition: RobotDefinition; handler: RobotHandler }>();

  on(event: string, handler: EventHandler): void {
    check(EVENT_NAME.test(event), `event name "${event}" is malformed`);
    const name = event.toUpperCase();
    check(!this.events.has(name), `a handler for ${name} is already registered`);
    check(typeof handler === 'function', `the handler of ${name} is not a function`);
    this.events.set(name, handler);
  }

  job(name: string, handler: UserJobHandler<never>, options: JobOptions = {}): void {
    check(JOB_NAME.test(name), `job name "${name}" is malformed ([A-Za-z0-9._:-], at most 100)`);
    check(!this.jobs.has(name), `job ${name} is already registered`);
    check(typeof handler === 'function', `the handler of job ${name} is not a function`);
    this.jobs.set(name, { handler, options });
  }

  schedule(name: string, cron: string, handler: ScheduleHandler, options: ScheduleDefinitionOptions = {}): void {
    check(JOB_NAME.test(name), `schedule name "${name}" is malformed ([A-Za-z0-9._:-], at most 100)`);
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
