/**
 * What Bitrix24 POSTs to a robot's HANDLER (docs/protocol.md §7.2), read into a typed, validated call.
 * Pure: the receiver parses the form body (PHP bracket syntax) and checks `auth[application_token]`
 * against the stored one (docs/protocol.md §3.4, as for events); this file checks shapes.
 *
 * Errors are {@link RobotRequestError}: B24_ERR_BAD_REQUEST (HTTP 400) with `field` naming the
 * missing or invalid field — never its value (tokens travel in this body).
 */
import { createHash } from 'node:crypto';
import { B24Error } from '../errors.js';
import { isValidRobotCode, type DocumentType } from './definition.js';
import { isMemberId, isPortalDomain } from '../validators.js';

/** The `auth[…]` block of a robot call: full tokens of the robot's user, refresh_token included. */
export interface RobotCallAuth {
  memberId: string;
  applicationToken: string;
  accessToken: string | undefined;
  refreshToken: string | undefined;
  /** Unix seconds (`auth[expires]`). */
  expiresAt: number | undefined;
  /** Seconds (`auth[expires_in]`). */
  expiresInSeconds: number | undefined;
  /** Portal host. */
  domain: string | undefined;
  clientEndpoint: string | undefined;
  serverEndpoint: string | undefined;
  scope: string[];
  status: string | undefined;
  userId: number | undefined;
}

/** One robot call. Field names are the camelCase of the form's (`workflow_id` → `workflowId`). */
export interface RobotCall {
  workflowId: string;
  code: string;
  /** e.g. `['crm', 'CCrmDocumentDeal', 'DEAL_123']`. */
  documentId: DocumentType;
  /** e.g. `['crm', 'CCrmDocumentDeal', 'DEAL']`. */
  documentType: DocumentType;
  /** Opaque; answer with it (`bizproc.event.send`). Treat as a secret: it completes the step. */
  eventToken: string;
  /** Input values by property key: `''` when empty, lists for `Multiple`, externalized ids (`user_5`). */
  properties: Record<string, unknown>;
  /** false = fire-and-forget: the workflow did not wait, and `bizproc.event.send` would be refused. */
  useSubscription: boolean;
  /** Seconds after `ts` at which the step closes with IsTimeout=1; 0 = no timeout. */
  timeoutSeconds: number;
  /** When the portal sent it, unix seconds. */
  ts: number;
  auth: RobotCallAuth;
}

export type RobotRequestProblem = 'missing' | 'invalid';

/** A robot call that cannot be accepted. `field` is e.g. `event_token` or `auth[member_id]`. */
export class RobotRequestError extends B24Error {
  readonly field: string;
  readonly problem: RobotRequestProblem;
  constructor(field: string, problem: RobotRequestProblem, memberId?: string) {
    super('B24_ERR_BAD_REQUEST', `robot call: ${field} is ${problem}`, memberId ? { memberId } : {});
    this.name = 'RobotRequestError';
    this.field = field;
    this.problem = problem;
  }
}

export interface ParseRobotRequestOptions {
  /** The `:memberId` of the URL: `auth[member_id]` must equal it (else B24_ERR_MEMBER_MISMATCH, 403). */
  memberId?: string;
  /** The `:code` of the URL: the form's `code` must equal it (else a RobotRequestError on `code`). */
  code?: string;
}

const WORKFLOW_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_TOKEN_LENGTH = 2048;
/** The core caps timeouts at 5 years (CBPRestActivity::calculateTimeoutDuration). */
const MAX_TIMEOUT_SECONDS = 5 * 365 * 24 * 3600;

/** Reads and validates a robot call (the decoded form body). Throws {@link RobotRequestError}. */
export function parseRobotRequest(form: Record<string, unknown>, options: ParseRobotRequestOptions = {}): RobotCall {
  if (!isRecord(form)) throw new RobotRequestError('body', 'invalid');
  // auth first: its member_id is what errors and logs are keyed by
  const auth = parseAuth(form.auth);
  if (options.memberId !== undefined && auth.memberId !== options.memberId) {
    throw new B24Error('B24_ERR_MEMBER_MISMATCH', undefined, { memberId: options.memberId });
  }
  const memberId = auth.memberId;
  const fail = (field: string, problem: RobotRequestProblem): never => {
    throw new RobotRequestError(field, problem, memberId);
  };

  const workflowId = requiredText(form.workflow_id, 'workflow_id', fail);
  if (!WORKFLOW_ID.test(workflowId)) fail('workflow_id', 'invalid');
  const code = requiredText(form.code, 'code', fail);
  if (!isValidRobotCode(code)) fail('code', 'invalid');
  if (options.code !== undefined && code !== options.code) fail('code', 'invalid');
  const eventToken = requiredText(form.event_token, 'event_token', fail);
  if (eventToken.length > MAX_TOKEN_LENGTH || /\s/.test(eventToken)) fail('event_token', 'invalid');
  const documentId = triple(form.document_id, 'document_id', fail);
  const documentType = triple(form.document_type, 'document_type', fail);

  let properties: Record<string, unknown> = {};
  if (form.properties !== undefined && form.properties !== '') {
    if (!isRecord(form.properties)) fail('properties', 'invalid');
    properties = { ...(form.properties as Record<string, unknown>) };
  }

  // empty means "wait for an answer"; only an explicit N is fire-and-forget (docs/protocol.md §7.1)
  const subscription = form.use_subscription === undefined ? '' : typeof form.use_subscription === 'string' ? form.use_subscription.toUpperCase() : undefined;
  if (subscription === undefined || !['', 'Y', 'N'].includes(subscription)) fail('use_subscription', 'invalid');
  const timeoutSeconds = form.timeout_duration === undefined || form.timeout_duration === '' ? 0 : integer(form.timeout_duration);
  if (timeoutSeconds === undefined || timeoutSeconds < 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) fail('timeout_duration', 'invalid');
  if (form.ts === undefined || form.ts === '') fail('ts', 'missing');
  const ts = integer(form.ts);
  if (ts === undefined || ts <= 0) fail('ts', 'invalid');

  return {
    workflowId,
    code,
    documentId,
    documentType,
    eventToken,
    properties,
    useSubscription: subscription !== 'N',
    timeoutSeconds: timeoutSeconds!,
    ts: ts!,
    auth,
  };
}

/**
 * The part of `auth[…]` that may be stored and shown to handlers: no application_token, no access or
 * refresh token (they are the robot user's full tokens), no expiry that only matters with them.
 */
export type RobotCallIdentity = Omit<RobotCallAuth, 'applicationToken' | 'accessToken' | 'refreshToken' | 'expiresAt' | 'expiresInSeconds'>;

/** A robot call as it may be stored (a job payload) and handed to a handler: `auth` without secrets. */
export interface RobotCallRecord extends Omit<RobotCall, 'auth'> {
  auth: RobotCallIdentity;
}

/**
 * Strips the secrets from a call's `auth` before anything is stored. `eventToken` stays: it is what
 * `bizproc.event.send` needs, single-use and useless without the app's own OAuth token.
 */
export function robotCallRecord(call: RobotCall): RobotCallRecord {
  const { auth, ...rest } = call;
  const identity: RobotCallIdentity = { memberId: auth.memberId, domain: auth.domain, clientEndpoint: auth.clientEndpoint, serverEndpoint: auth.serverEndpoint, scope: auth.scope, status: auth.status, userId: auth.userId };
  return { ...rest, properties: { ...rest.properties }, auth: identity };
}

/**
 * The dedupe key of a robot call: `robot:{memberId}:{sha256(workflow_id|event_token)}`.
 * The core signs `workflowId|activityName|eventId` into event_token, with eventId 32 random
 * characters drawn per execution (CBPRestActivity::execute / generateToken): a repeated delivery of
 * one execution carries the same token, a new execution (the same robot again in a loop, a second
 * robot of the workflow) a new one. workflow_id alone is NOT unique per call. Hashed, because the
 * token completes the step and keys land in the store and logs.
 */
export function robotCallDedupeKey(call: Pick<RobotCall, 'workflowId' | 'eventToken'> & { auth: Pick<RobotCallAuth, 'memberId'> }): string {
  const digest = createHash('sha256').update(`${call.workflowId}|${call.eventToken}`).digest('hex');
  return `robot:${call.auth.memberId}:${digest}`;
}

/**
 * When the step closes with IsTimeout=1, in epoch ms, or undefined without a timeout. A result
 * sent after it is accepted and ignored (docs/protocol.md §7.3): queue robot jobs to finish well before.
 */
export function robotDeadlineMs(call: Pick<RobotCall, 'ts' | 'timeoutSeconds'>): number | undefined {
  return call.timeoutSeconds > 0 ? (call.ts + call.timeoutSeconds) * 1000 : undefined;
}

function parseAuth(value: unknown): RobotCallAuth {
  if (value === undefined || value === '') throw new RobotRequestError('auth', 'missing');
  if (!isRecord(value)) throw new RobotRequestError('auth', 'invalid');
  const memberIdRaw = value.member_id;
  if (memberIdRaw === undefined || memberIdRaw === '') throw new RobotRequestError('auth[member_id]', 'missing');
  if (typeof memberIdRaw !== 'string' || !isMemberId(memberIdRaw.trim())) throw new RobotRequestError('auth[member_id]', 'invalid');
  const memberId = memberIdRaw.trim();
  const fail = (field: string, problem: RobotRequestProblem): never => {
    throw new RobotRequestError(`auth[${field}]`, problem, memberId);
  };
  const token = (name: string, required: boolean): string | undefined => {
    const raw = value[name];
    if (raw === undefined || raw === '') return required ? fail(name, 'missing') : undefined;
    if (typeof raw !== 'string' || raw.length > MAX_TOKEN_LENGTH || /\s/.test(raw)) fail(name, 'invalid');
    return raw as string;
  };
  const url = (name: string): string | undefined => {
    const raw = value[name];
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw !== 'string') return fail(name, 'invalid');
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') fail(name, 'invalid');
    } catch {
      fail(name, 'invalid');
    }
    return raw;
  };
  const number = (name: string): number | undefined => {
    const raw = value[name];
    if (raw === undefined || raw === '') return undefined;
    const n = integer(raw);
    if (n === undefined || n < 0) fail(name, 'invalid');
    return n;
  };
  const applicationToken = token('application_token', true)!;
  const accessToken = token('access_token', false);
  const refreshToken = token('refresh_token', false);
  let domain: string | undefined;
  if (value.domain !== undefined && value.domain !== '') {
    if (!isPortalDomain(value.domain)) fail('domain', 'invalid');
    domain = (value.domain as string).toLowerCase();
  }
  const scopeRaw = value.scope;
  if (scopeRaw !== undefined && typeof scopeRaw !== 'string') fail('scope', 'invalid');
  const status = value.status;
  if (status !== undefined && (typeof status !== 'string' || !/^[A-Za-z]{0,4}$/.test(status))) fail('status', 'invalid');
  const userId = number('user_id');
  return {
    memberId,
    applicationToken,
    accessToken,
    refreshToken,
    expiresAt: number('expires'),
    expiresInSeconds: number('expires_in'),
    domain,
    clientEndpoint: url('client_endpoint'),
    serverEndpoint: url('server_endpoint'),
    // documented as space-separated, sent comma-separated (docs/protocol.md §2.2): read both
    scope: typeof scopeRaw === 'string' ? scopeRaw.split(/[\s,]+/).filter((s) => s !== '') : [],
    status: typeof status === 'string' && status !== '' ? status : undefined,
    userId: userId !== undefined && userId > 0 ? userId : undefined,
  };
}

function requiredText(value: unknown, field: string, fail: (field: string, problem: RobotRequestProblem) => never): string {
  if (value === undefined || value === '') return fail(field, 'missing');
  if (typeof value !== 'string') return fail(field, 'invalid');
  return value;
}

/** `document_id[]` / `document_type[]`: three non-empty strings (a form may decode them as {0,1,2}). */
function triple(value: unknown, field: string, fail: (field: string, problem: RobotRequestProblem) => never): DocumentType {
  if (value === undefined || value === '') return fail(field, 'missing');
  const list = Array.isArray(value) ? value : isRecord(value) ? Object.keys(value).sort((a, b) => Number(a) - Number(b)).map((key) => value[key]) : undefined;
  if (!list || list.length !== 3 || list.some((part) => typeof part !== 'string' || part === '' || part.length > 200)) return fail(field, 'invalid');
  return [list[0] as string, list[1] as string, list[2] as string];
}

function integer(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
