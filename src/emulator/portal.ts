import { randomBytes } from 'node:crypto';
import type { CostModel, PortalLimits } from './options.js';
import type { BucketState } from './limits/leaky-bucket.js';
import { OperatingBudget } from './limits/operating.js';
import { CrmStore } from './crm/store.js';
import { PortalEvents } from './events/portal-events.js';
import { RobotRegistry } from './robots/registry.js';
import { seedDirectory, type PortalDepartment } from './users/directory.js';
import { TimelineStore } from './timeline/store.js';
import { TaskStore } from './tasks/store.js';

/** Plan names; `enterprise` selects the enterprise limits (docs/protocol.md §5.1, app.info LICENSE_FAMILY). */
export type PortalPlan = 'free' | 'basic' | 'standard' | 'professional' | 'enterprise';

export interface PortalUser {
  ID: number;
  NAME: string;
  LAST_NAME: string;
  EMAIL: string;
  ADMIN: boolean;
  TIME_ZONE: string;
  /** A dismissed employee is inactive (user.get `ACTIVE`). */
  ACTIVE: boolean;
  SECOND_NAME: string;
  WORK_POSITION: string;
  PERSONAL_CITY: string;
  /** ISO 8601. */
  DATE_REGISTER: string;
  /** Department IDs (users/directory.ts). */
  UF_DEPARTMENT: number[];
}

/** The app as installed on this portal (docs/protocol.md §2). */
export interface AppInstallation {
  appUrl: string | null;
  applicationToken: string;
  scope: string[];
  version: number;
  /** App status letter (docs/protocol.md §2.8). */
  status: string;
  installedAtMs: number;
  /** The user who installed the app (an admin). */
  userId: number;
}

/** Faults injected per portal through `PUT /_emulator/portals/:memberId/faults`. */
export interface PortalFaults {
  /** Share of REST requests (0..1) answered with `errorStatus`. */
  errorRate: number;
  /**
   * Every Nth REST request (counted from the `PUT …/faults` that set it; 0 = off) is answered with
   * `errorStatus`: a fault pattern a test can rely on, where `errorRate` is a coin toss.
   */
  errorEvery: number;
  errorStatus: number;
  /** Error code sent with injected errors. */
  errorCode: string;
  /** Added latency per REST request in ms (real time). */
  latencyMs: number;
  /** Portal answers 503 with an HTML page until this emulator time (ms). */
  downUntilMs: number;
  /** Share of REST requests (0..1) whose connection is reset without an answer. */
  resetRate: number;
  /** Share of REST requests (0..1) that hang without an answer (until the client gives up). */
  hangRate: number;
}

export interface PortalStats {
  requests: number;
  /** REST commands executed, batch sub-commands included. */
  commands: number;
  rateLimitRejections: number;
  operatingRejections: number;
  /** Successful refreshes at the token endpoint. */
  refreshes: number;
  /** Refresh grants refused with invalid_grant for a refresh token this portal was issued (reused, revoked or expired). */
  refreshesRefused: number;
  eventsDelivered: number;
  eventsFailed: number;
  /** Event deliveries the queue gave up on for want of an answer (also in eventsFailed; never resent). */
  eventsTimedOut: number;
  /** Event deliveries held back by the slow-handler pause (delivery switch `throttleSlowHandlers`). */
  eventsThrottled: number;
  byMethod: Record<string, number>;
  byStatus: Record<string, number>;
}

export const NO_FAULTS: PortalFaults = {
  errorRate: 0,
  errorEvery: 0,
  errorStatus: 500,
  errorCode: 'INTERNAL_SERVER_ERROR',
  latencyMs: 0,
  downUntilMs: 0,
  resetRate: 0,
  hangRate: 0,
};

export function emptyStats(): PortalStats {
  return {
    requests: 0,
    commands: 0,
    rateLimitRejections: 0,
    operatingRejections: 0,
    refreshes: 0,
    refreshesRefused: 0,
    eventsDelivered: 0,
    eventsFailed: 0,
    eventsTimedOut: 0,
    eventsThrottled: 0,
    byMethod: {},
    byStatus: {},
  };
}

export interface PortalInit {
  memberId?: string;
  domain?: string;
  plan?: PortalPlan;
  limits: PortalLimits;
  cost: CostModel;
  timeZone?: string;
}

/** One Bitrix24 portal (customer account) inside the emulator. */
export class Portal {
  readonly memberId: string;
  domain: string;
  /** Domains this portal had before renames; requests to them answer 302 (docs/protocol.md §4.5). */
  readonly previousDomains = new Set<string>();
  plan: PortalPlan;
  limits: PortalLimits;
  cost: CostModel;
  timeZone: string;
  deleted = false;
  app: AppInstallation | null = null;
  faults: PortalFaults = { ...NO_FAULTS };
  /** REST requests that reached the error fault since `errorEvery` was last set. */
  faultCounter = 0;
  stats: PortalStats = emptyStats();
  readonly bucket: BucketState = { level: 0, updatedAtMs: 0 };
  readonly operating: OperatingBudget;
  readonly users = new Map<number, PortalUser>();
  /** The company structure (department.get). */
  readonly departments = new Map<number, PortalDepartment>();
  /** Incoming webhooks: code → user and scope (docs/protocol.md §4.1). */
  readonly webhooks = new Map<string, { userId: number; scope: string[] }>();
  readonly crm = new CrmStore();
  readonly events: PortalEvents;
  readonly robots = new RobotRegistry();
  /** Timeline comments and to-do activities (crm.timeline.comment.add, crm.activity.todo.add). */
  readonly timeline = new TimelineStore();
  /** Tasks (tasks.task.add|get|list). */
  readonly tasks = new TaskStore();
  /**
   * The user logged in to the portal in "the browser": `/oauth/authorize/` issues its code for
   * this user. Opening the app frame as a user (control API `…/frame`) logs that user in.
   * @defaultValue the installing user
   */
  loggedInUserId: number | undefined;

  constructor(init: PortalInit) {
    this.memberId = init.memberId ?? randomBytes(16).toString('hex');
    this.domain = init.domain ?? `portal-${this.memberId.slice(0, 8)}.bitrix24.test`;
    this.plan = init.plan ?? 'professional';
    this.limits = { ...init.limits };
    this.cost = { ...init.cost };
    this.timeZone = init.timeZone ?? 'Europe/Berlin';
    this.operating = new OperatingBudget(() => this.limits.operatingWindowSeconds);
    this.events = new PortalEvents(this);
    seedDirectory(this);
  }

  /** `LICENSE_FAMILY` as app.info reports it. */
  get licenseFamily(): string {
    return this.plan === 'enterprise' ? 'ent' : this.plan === 'professional' ? 'pro' : this.plan;
  }

  countStatus(status: number): void {
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
  }
}
