/**
 * A robot call (protocol §7.2) as stored in its job: the form without `auth[…]` tokens.
 * `event_token` stays: it is what bizproc.event.send needs, single-use and useless without the
 * app's own OAuth token.
 *
 * This is the app core's minimal reading of the form; the robots module (src/robots/) takes it
 * over when it lands.
 */
import { B24Error } from '../errors.js';
import { isRecord, parseEventIdentity, type EventIdentity } from '../oauth/install-payload.js';
import type { Json } from '../queue/types.js';

export interface RobotCall {
  code: string;
  workflowId: string;
  eventToken: string;
  /** e.g. `['crm', 'CCrmDocumentDeal', 'DEAL_123']`. */
  documentId: string[];
  documentType: string[];
  properties: { [key: string]: Json };
  /** False when registered with USE_SUBSCRIPTION=N: no answer is expected. */
  useSubscription: boolean;
  /** Seconds; 0 = none. */
  timeoutSeconds: number;
  ts: string | null;
  userId: string | null;
}

export function parseRobotCall(urlCode: string, body: unknown): { call: RobotCall; identity: EventIdentity } {
  if (!isRecord(body)) throw bad('the robot call has no form body');
  const text = (name: string): string | undefined => (typeof body[name] === 'string' && body[name] !== '' ? (body[name] as string) : undefined);
  const eventToken = text('event_token');
  const workflowId = text('workflow_id');
  if (!eventToken || !workflowId) throw bad('event_token and workflow_id are required');
  if (eventToken.length > 1024 || workflowId.length > 200) throw bad('event_token or workflow_id is malformed');
  const code = text('code') ?? urlCode;
  if (code !== urlCode) throw bad('the code in the form does not match the URL');
  const identity = parseEventIdentity(body);
  const auth = body.auth as Record<string, unknown>;
  return {
    identity,
    call: {
      code,
      workflowId,
      eventToken,
      documentId: strings(body.document_id),
      documentType: strings(body.document_type),
      properties: isRecord(body.properties) ? (JSON.parse(JSON.stringify(body.properties)) as { [key: string]: Json }) : {},
      useSubscription: text('use_subscription') !== 'N',
      timeoutSeconds: Number(text('timeout_duration') ?? 0) || 0,
      ts: text('ts') ?? null,
      userId: typeof auth.user_id === 'string' ? auth.user_id : null,
    },
  };
}

function strings(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  if (isRecord(value)) return Object.values(value).filter((item): item is string => typeof item === 'string');
  return [];
}

function bad(message: string): B24Error {
  return new B24Error('B24_ERR_BAD_REQUEST', `Not a robot call: ${message}`, { status: 400 });
}
