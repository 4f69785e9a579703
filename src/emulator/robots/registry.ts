import { randomBytes } from 'node:crypto';
import { seedTemplates, type WorkflowTemplate } from './templates.js';

/** A robot as `bizproc.robot.add` registered it (docs/protocol.md §7.1). Field names as the API spells them. */
export interface Robot {
  CODE: string;
  HANDLER: string;
  AUTH_USER_ID: number;
  /** 'Y', 'N' or '' (empty = wait for an answer; only an explicit N is fire-and-forget). */
  USE_SUBSCRIPTION: string;
  NAME: unknown;
  DESCRIPTION: unknown;
  PROPERTIES: Record<string, RobotProperty>;
  RETURN_PROPERTIES: Record<string, RobotProperty>;
  DOCUMENT_TYPE: string[] | null;
  FILTER: unknown;
  USE_PLACEMENT: string;
  PLACEMENT_HANDLER: string;
  createdAtMs: number;
}

export interface RobotProperty {
  Name: unknown;
  Description?: unknown;
  Type?: string;
  Options?: unknown;
  Required?: string;
  Multiple?: string;
  Default?: unknown;
}

export type RunState = 'running' | 'completed' | 'timed_out';

/** One execution of a robot, started by the control API (`POST …/robots/:code/run`). */
export interface RobotRun {
  workflowId: string;
  code: string;
  eventToken: string;
  documentId: string[];
  documentType: string[];
  properties: Record<string, unknown>;
  useSubscription: 'Y' | 'N';
  timeoutSeconds: number;
  startedAtMs: number;
  /** Emulator time after which the robot closes with IsTimeout=1; null = no timeout. */
  deadlineMs: number | null;
  state: RunState;
  returnValues: Record<string, unknown>;
  log: Array<{ atMs: number; message: string }>;
  finishedAtMs: number | null;
  /** bizproc.event.send calls that came after the robot had closed, kept for tests. */
  ignoredSends: number;
}

/** A workflow's state: running while a robot step waits; finished ones leave bizproc.workflow.instances. */
export type WorkflowState = 'running' | 'completed' | 'terminated';

/** A workflow started with bizproc.workflow.start (D:api-reference/bizproc/bizproc-workflow-start.md). */
export interface WorkflowInstance {
  id: string;
  templateId: number;
  documentId: string[];
  parameters: Record<string, unknown>;
  startedBy: number;
  startedAtMs: number;
  /** Last change (a step started or closed), for MODIFIED. */
  modifiedAtMs: number;
  state: WorkflowState;
  /** Index of the robot step running now (or next); equals the step count once completed. */
  step: number;
  /** Event tokens of the robot runs it started, in order. */
  runTokens: string[];
  log: Array<{ atMs: number; message: string }>;
}

/** Robots registered by the app on one portal, their runs, and started workflows (docs/protocol.md §7). */
export class RobotRegistry {
  readonly robots = new Map<string, Robot>();
  /** The latest run per workflow id (a workflow with several robot steps has one run per step). */
  readonly runs = new Map<string, RobotRun>();
  readonly #byToken = new Map<string, RobotRun>();
  readonly workflows = new Map<string, WorkflowInstance>();
  /** Business-process templates of this portal, by ID: the seeded ones plus those the control API adds. */
  readonly templates = new Map<number, WorkflowTemplate>(seedTemplates().map((t) => [t.id, t]));

  addRun(run: RobotRun): void {
    this.runs.set(run.workflowId, run);
    this.#byToken.set(run.eventToken, run);
  }

  runByToken(token: string): RobotRun | undefined {
    return this.#byToken.get(token);
  }

  /** Adds a template under the next free ID. */
  addTemplate(fields: Omit<WorkflowTemplate, 'id'>): WorkflowTemplate {
    const template = { id: Math.max(0, ...this.templates.keys()) + 1, ...fields };
    this.templates.set(template.id, template);
    return template;
  }

  /**
   * The run with its state brought up to `nowMs`: a running robot whose timeout has passed on
   * the emulator clock closes as timed_out (docs/protocol.md §7.3).
   */
  refresh(run: RobotRun, nowMs: number): RobotRun {
    if (run.state === 'running' && run.deadlineMs !== null && nowMs >= run.deadlineMs) {
      run.state = 'timed_out';
      run.finishedAtMs = run.deadlineMs;
      run.log.push({ atMs: run.deadlineMs, message: 'Timed out (IsTimeout=1)' });
    }
    return run;
  }

  /** Drops every robot (uninstall). Runs stay readable through the control API. */
  clear(): void {
    this.robots.clear();
  }
}

/** An id shaped like PHP's uniqid('', true), which Bitrix uses for workflow ids: `66e81a641752f8.56521481`. */
export function uniqidLike(nowMs: number): string {
  // a batch's later commands start at fractional ms on the emulator's time line (dispatch.ts): BigInt needs an integer
  const micros = BigInt(Math.floor(nowMs)) * 1000n + BigInt(randomBytes(2).readUInt16BE() % 1000);
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  const digits = String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0');
  return `${seconds.toString(16).padStart(8, '0')}${fraction.toString(16).padStart(5, '0')}.${digits}`;
}
