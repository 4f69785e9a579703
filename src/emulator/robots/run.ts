import { createHmac, randomBytes } from 'node:crypto';
import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import { authBlock } from '../auth-block.js';
import type { DeliveryLogEntry } from '../events/outbox.js';
import { documentTypeOf } from './templates.js';
import { uniqidLike, type Robot, type RobotRun } from './registry.js';

export interface RunRobotInput {
  /** @defaultValue ['crm', 'CCrmDocumentDeal', 'DEAL_1'] */
  documentId?: string[];
  /** Input values by property key; missing ones take the property's Default, else ''. */
  properties?: Record<string, unknown>;
  /** `timeout_duration`; 0 = none. @defaultValue 0 */
  timeoutSeconds?: number;
  /** The user whose token is sent when the robot has no AUTH_USER_ID. @defaultValue the installing admin */
  userId?: number;
  /** The workflow the robot runs in (a step of a started workflow). @defaultValue a new id */
  workflowId?: string;
}

export interface RunRobotOutcome {
  workflow_id: string;
  event_token: string;
  delivery: DeliveryLogEntry;
}

/**
 * Runs a robot as an automation rule reaching it would (docs/protocol.md §7.2): POSTs the form payload
 * to its HANDLER with full auth (refresh_token included) and, unless USE_SUBSCRIPTION is N,
 * waits for bizproc.event.send with the event_token.
 */
export async function runRobot(emulator: Emulator, portal: Portal, robot: Robot, input: RunRobotInput): Promise<RunRobotOutcome> {
  const now = emulator.clock.nowMs();
  const documentId = input.documentId ?? ['crm', 'CCrmDocumentDeal', 'DEAL_1'];
  const documentType = documentTypeOf(documentId) ?? [documentId[0] ?? '', documentId[1] ?? '', (documentId[2] ?? '').replace(/_\d+$/, '')];
  const workflowId = input.workflowId ?? uniqidLike(now);
  const eventToken = newEventToken(workflowId);
  const properties = inputValues(robot, input.properties ?? {});
  const useSubscription = robot.USE_SUBSCRIPTION === 'N' ? 'N' : 'Y';
  const timeoutSeconds = input.timeoutSeconds ?? 0;

  const run: RobotRun = {
    workflowId,
    code: robot.CODE,
    eventToken,
    documentId,
    documentType,
    properties,
    useSubscription,
    timeoutSeconds,
    startedAtMs: now,
    deadlineMs: timeoutSeconds > 0 ? now + timeoutSeconds * 1000 : null,
    state: 'running',
    returnValues: {},
    log: [{ atMs: now, message: `Robot ${robot.CODE} started` }],
    finishedAtMs: null,
    ignoredSends: 0,
  };
  portal.robots.addRun(run);

  const fallbackUser = input.userId ?? portal.app?.userId ?? 1;
  const userId = robot.AUTH_USER_ID > 0 && portal.users.has(robot.AUTH_USER_ID) ? robot.AUTH_USER_ID : fallbackUser;
  const tokens = emulator.tokens.issue(portal.memberId, userId, portal.app?.scope ?? []);
  const payload = {
    workflow_id: workflowId,
    code: robot.CODE,
    document_id: documentId,
    document_type: documentType,
    event_token: eventToken,
    properties,
    use_subscription: useSubscription,
    timeout_duration: String(timeoutSeconds),
    ts: String(emulator.clock.nowSeconds()),
    auth: authBlock(emulator, portal, { tokens, withRefreshToken: true }),
  };
  const delivery = await portal.events.outbox.sendNow('robot', robot.CODE, robot.HANDLER, payload);
  run.log.push({ atMs: emulator.clock.nowMs(), message: `Handler answered ${delivery.http_status ?? delivery.error ?? 'nothing'}` });
  if (useSubscription === 'N' && run.state === 'running') {
    // fire-and-forget: the workflow moves on without waiting (docs/protocol.md §7.1)
    run.state = 'completed';
    run.finishedAtMs = emulator.clock.nowMs();
  }
  return { workflow_id: workflowId, event_token: eventToken, delivery };
}

/** The registered properties with their values: given, else Default, else '' (docs/protocol.md §7.2). */
function inputValues(robot: Robot, given: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const lower = new Map(Object.entries(given).map(([key, value]) => [key.toLowerCase(), value]));
  for (const [key, property] of Object.entries(robot.PROPERTIES)) {
    const value = lower.get(key.toLowerCase()) ?? property.Default ?? '';
    values[key] = property.Multiple === 'Y' && !Array.isArray(value) ? (value === '' ? [] : [value]) : value;
  }
  return values;
}

/** Shaped like the real `…|A51601_82584_96831_81132|…` tokens: opaque to the app. */
function newEventToken(workflowId: string): string {
  const activity = Array.from({ length: 4 }, () => String(randomBytes(2).readUInt16BE() % 100_000).padStart(5, '0')).join('_');
  const nonce = randomBytes(24).toString('base64url').slice(0, 32);
  const mac = createHmac('sha256', randomBytes(16)).update(`${workflowId}|${activity}|${nonce}`).digest('hex');
  return `${workflowId}|A${activity}|${nonce}.${mac}`;
}
