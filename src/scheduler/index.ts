/** Cron schedules per portal, one job per slot across all processes. */
export { Scheduler, type SchedulerOptions, type ScheduleOptions, type SchedulePortal, type FiredSlot, type TickReport } from './scheduler.js';
export type { ScheduledJobPayload } from './fire.js';
export { dueSlot, type CatchUpPolicy, type SlotDecision } from './slots.js';
export { compileCron, type CompiledCron } from './cron.js';
