/**
 * A deterministic fuzz battery over every route of the app (issue #8). A seeded PRNG generates the
 * requests before any is sent: one seed, one sequence (the portals' tokens and timestamps aside; set
 * B24KIT_FUZZ_SEED to replay a run). They go over a real socket,
 * eight at a time, against an app with real installed portals. Most are a genuine portal request
 * with one field mutated, so the fuzz reaches past the parsers into authentication, app.info,
 * the inbox and the installer. The rest are malformed bodies, size and parameter bombs, hostile
 * paths, wrong methods and content types.
 *
 * Invariants: no 5xx; no stack trace or source path in any answer; every 4xx is
 * `{"error":"B24_ERR_…","message":…}`; no request hangs (5 s); no answer and no log line holds a
 * token or secret of the run; the heap stays bounded; afterwards the store still takes a genuine
 * event and its job runs.
 */
import { appInternals } from '../../src/app/internals.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import qs from 'qs';
import { eventForm, startTestApp, waitFor, type TestApp } from '../app/helpers.js';
import { UNLIMITED_PORTAL } from '../helpers/emulator.js';
import { emulatorInstall, installForm, type EmulatorInstall } from '../portals/helpers.js';
import { formBody, lifecycleForm, mulberry32, robotForm, send, type Answer, type Sent } from './helpers.js';

const SEED = Number(process.env.B24KIT_FUZZ_SEED ?? 0x5eed_b24);
const COUNT = 2400;
const CONCURRENCY = 8;
const TIMEOUT_MS = 5000;
const MiB = 1024 * 1024;
const ROBOT = 'score';

const ERROR_CODE = /^B24_ERR_[A-Z_]+$/;
/** What a leaked stack or source location looks like in an answer. */
const STACK = /\n\s+at \S|\bat [\w$.<>]+ \(|node:internal|\/src\/|\/node_modules\/|\.ts:\d|\.js:\d/;

const SQL = ["'; DROP TABLE portals;--", "' OR 1=1 --", '%27%20OR%201=1', '1; SELECT * FROM portals', '" OR ""="', "') UNION SELECT application_token FROM portals --"];
const BAD_PERCENT = ['%zz', '%', '%E0%A4%A', '%00', '%%', '%C0%AF', '%ED%A0%80', '%FF%FE'];
const WEIRD = ['', ' ', '\t', '\r\n', '\u0000', 'null', 'undefined', '[]', '{}', '-1', '0', '1e309', 'NaN', '9'.repeat(400), '𝔘ñíçødé 🚀', '<script>alert(1)</script>', '../../etc/passwd', '${7*7}', '__proto__'];
const PROTO_KEYS = ['__proto__[polluted]', 'constructor[prototype][polluted]', '__proto__', 'hasOwnProperty', 'toString', 'auth[__proto__][member_id]'];
const CONTENT_TYPES = [
  'text/plain',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/x-www-form-urlencoded; charset=utf-16',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/json; charset=utf-16',
  'application/json, application/x-www-form-urlencoded',
  'application/jsonx',
  ';;;',
  'a'.repeat(1000),
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
const KNOWN_PATHS = ['/install', '/oauth/start', '/oauth/callback', '/health', '/ready', '/metrics'];

type Rng = () => number;
type Pair = [string, string];

/** A request to send, with what it is for the report. */
interface Case extends Sent {
  kind: string;
  /** The one status this request must get (the body-size boundary). */
  expectStatus?: number;
}

interface Portals {
  a: EmulatorInstall; // events and robots are mutated from its genuine forms
  /** Portals installed in the emulator but not here yet: install, update and uninstall are mutated from their forms. */
  fresh: EmulatorInstall[];
  x: EmulatorInstall; // the donor of other-portal values
  o: EmulatorInstall; // the genuine OAuth callbacks are for it
  callbacks: URL[]; // genuine OAuth callback URLs (fresh code and state each)
}

const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const chance = (rng: Rng, p: number): boolean => rng() < p;

/** A nested form as PHP bracket pairs: `{auth: {member_id: 'x'}}` → `[['auth[member_id]', 'x']]`. */
function flatten(value: unknown, prefix = ''): Pair[] {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}[${key}]` : key));
  }
  return [[prefix, String(value ?? '')]];
}

/** Pairs as a body; a value starting with `\u0001raw:` goes out unencoded (bad percent-encoding on purpose). */
function encodePairs(pairs: Pair[], rng: Rng): string {
  const rawBrackets = chance(rng, 0.5);
  const key = (k: string): string => (rawBrackets ? encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']') : encodeURIComponent(k));
  const value = (v: string): string => (v.startsWith('\u0001raw:') ? v.slice(5) : encodeURIComponent(v));
  return pairs.map(([k, v]) => `${key(k)}=${value(v)}`).join('&');
}

/** The value of the same field in another portal's form, when the field is one a portal has. */
function donorValue(key: string, donor: EmulatorInstall): string | undefined {
  const field = /\[([a-z_]+)\]$/i.exec(key)?.[1] ?? key;
  const map: Record<string, string> = {
    member_id: donor.memberId,
    domain: donor.domain,
    access_token: donor.access_token,
    AUTH_ID: donor.access_token,
    refresh_token: donor.refresh_token,
    REFRESH_ID: donor.refresh_token,
    application_token: donor.application_token,
    APPLICATION_TOKEN: donor.application_token,
    client_endpoint: donor.client_endpoint,
    DOMAIN: donor.domain,
  };
  return map[field];
}

/** One field of a genuine request changed (or, now and then, none: the genuine request itself). */
function mutate(rng: Rng, base: { kind: string; path: string; pairs: Pair[]; urlMemberId?: string }, p: Portals): Case {
  let pairs = base.pairs.map((pair): Pair => [pair[0], pair[1]]);
  let path = base.path;
  let contentType = 'application/x-www-form-urlencoded';
  let asJson = false;
  const i = Math.floor(rng() * pairs.length);
  const [k, v] = pairs[i] ?? ['event', ''];
  const op = Math.floor(rng() * 22);
  switch (op) {
    case 0:
      pairs.splice(i, 1);
      break;
    case 1:
      pairs[i] = [k, ''];
      break;
    case 2:
      pairs[i] = [k, 'x'.repeat(10_000)];
      break;
    case 3:
      pairs[i] = [k, chance(rng, 0.5) ? `${v}\u0000` : `\u0000${v}`];
      break;
    case 4:
      pairs[i] = [k, pick(rng, SQL)];
      break;
    case 5:
      pairs[i] = [`${k}[]`, v]; // an array where a string is expected
      break;
    case 6:
      pairs[i] = [`${k}[x]`, v];
      break;
    case 7:
      pairs.splice(i + 1, 0, [k, chance(rng, 0.5) ? v : pick(rng, WEIRD)]); // a duplicated key
      break;
    case 8:
      pairs[i] = [`${k}${'[a]'.repeat(100)}`, v];
      break;
    case 9:
      pairs[i] = [`${k}\u0000`, v];
      break;
    case 10:
      pairs[i] = [k, v.toUpperCase()];
      break;
    case 11:
      pairs[i] = [k, donorValue(k, p.x) ?? p.x.memberId];
      break;
    case 12:
      pairs[i] = [k, pick(rng, WEIRD)];
      break;
    case 13:
      pairs[i] = [k, `\u0001raw:${chance(rng, 0.5) ? v.slice(0, 8) : ''}${pick(rng, BAD_PERCENT)}`];
      break;
    case 14: {
      // the field travels in the query string instead (tokens in URLs must not reach the logs)
      pairs.splice(i, 1);
      path = `${path}${path.includes('?') ? '&' : '?'}${encodeURIComponent(k)}=${encodeURIComponent(v)}`;
      break;
    }
    case 15:
      pairs[i] = [k, chance(rng, 0.5) ? ` ${v} ` : `${v}\r\n`];
      break;
    case 16:
      pairs.push([pick(rng, PROTO_KEYS), pick(rng, ['1', 'x', v])]);
      break;
    case 17:
      if (base.urlMemberId) {
        const other = pick(rng, [p.x.memberId, randomHex(rng, 32), encodeURIComponent(pick(rng, SQL)), '%00', 'a'.repeat(65), base.urlMemberId.toUpperCase(), '..', '%2e%2e']);
        path = path.replace(base.urlMemberId, other);
      } else {
        pairs[i] = [k, v.slice(0, Math.floor(v.length / 2))];
      }
      break;
    case 18:
      contentType = pick(rng, CONTENT_TYPES);
      break;
    case 19:
      asJson = true;
      break;
    case 20:
      pairs = pairs.slice().sort(() => rng() - 0.5); // order must not matter
      break;
    default:
      break; // the genuine request
  }
  let body: string;
  if (asJson) {
    const object = qs.parse(encodePairs(pairs.filter(([, value]) => !value.startsWith('\u0001raw:')), rng), { depth: 200, parameterLimit: 100_000, arrayLimit: 100_000 });
    body = JSON.stringify(object);
    contentType = 'application/json';
  } else {
    body = encodePairs(pairs, rng);
  }
  return { kind: `${base.kind}/mutated#${op}`, method: 'POST', path, headers: { 'content-type': contentType }, body };
}

/** Seeded bytes as text (no `randomBytes`: a run must replay from its seed). */
function randomLatin1(rng: Rng, length: number): string {
  return String.fromCharCode(...Array.from({ length }, () => Math.floor(rng() * 256)));
}

function randomHex(rng: Rng, length: number): string {
  let out = '';
  for (let n = 0; n < length; n += 1) out += Math.floor(rng() * 16).toString(16);
  return out;
}

/** A genuine request of each kind, as pairs. */
function genuine(rng: Rng, p: Portals, n: number): { kind: string; path: string; pairs: Pair[]; urlMemberId?: string } {
  // a genuine install redeems the refresh token it carries (a re-install needs an administrator's), so
  // each fresh portal installs once; after that its form is stale and the fuzz exercises the refusal
  const c = pick(rng, p.fresh);
  const kind = pick(rng, ['event', 'event', 'event', 'robot', 'robot', 'install', 'install', 'ui-install', 'update', 'uninstall']);
  switch (kind) {
    case 'event':
      return {
        kind,
        path: `/webhooks/${p.a.memberId}/event`,
        urlMemberId: p.a.memberId,
        pairs: flatten(eventForm(p.a, pick(rng, ['ONCRMDEALADD', 'oncrmdealadd', 'ONCRMDEALUPDATE', 'ONCRMCONTACTADD']), { FIELDS: { ID: String(n) } }, { ts: String(1_700_000_000 + n) })),
      };
    case 'robot':
      return { kind, path: `/robots/${p.a.memberId}/${ROBOT}`, urlMemberId: p.a.memberId, pairs: flatten(robotForm(p.a, ROBOT, { workflowId: `fz${n}` })) };
    case 'install':
      return { kind, path: '/install', pairs: flatten(installForm(c)) };
    case 'ui-install':
      return {
        kind,
        path: `/install?DOMAIN=${c.domain}&PROTOCOL=0`,
        pairs: [
          ['AUTH_ID', c.access_token],
          ['REFRESH_ID', c.refresh_token],
          ['APPLICATION_TOKEN', c.application_token],
          ['member_id', c.memberId],
          ['AUTH_EXPIRES', '3600'],
          ['status', 'L'],
          ['APPLICATION_SCOPE', 'crm,bizproc'],
        ],
      };
    case 'update':
      return { kind, path: `/webhooks/${c.memberId}/event`, urlMemberId: c.memberId, pairs: flatten(lifecycleForm(c, 'ONAPPUPDATE')) };
    default:
      return { kind, path: `/webhooks/${c.memberId}/event`, urlMemberId: c.memberId, pairs: flatten(lifecycleForm(c, 'ONAPPUNINSTALL')) };
  }
}

function oauthCase(rng: Rng, p: Portals): Case {
  if (chance(rng, 0.4)) {
    const domain = pick(rng, [p.fresh[0]!.domain, p.x.domain, 'acme.bitrix24.com', '', 'localhost', 'a'.repeat(300) + '.com', `${p.x.domain}%00`, `${p.x.domain}/evil`, 'evil.com%2F%2E%2E', "x'; DROP TABLE oauth_states;--.com", '%zz']);
    const query = chance(rng, 0.2) ? `domain[]=${domain}` : chance(rng, 0.1) ? `domain=${domain}&domain=${p.x.domain}` : `domain=${domain}`;
    return { kind: 'oauth-start', method: 'GET', path: `/oauth/start?${query}` };
  }
  const url = new URL(pick(rng, p.callbacks));
  const params = [...url.searchParams.entries()];
  const j = Math.floor(rng() * params.length);
  const op = Math.floor(rng() * 8);
  if (op === 0) params.splice(j, 1);
  else if (op === 1) params[j] = [params[j]![0], pick(rng, WEIRD)];
  else if (op === 2) params[j] = [`${params[j]![0]}[]`, params[j]![1]];
  else if (op === 3) params.push([params[j]![0], params[j]![1]]);
  else if (op === 4) params[j] = [params[j]![0], donorValue(params[j]![0], p.x) ?? pick(rng, SQL)];
  else if (op === 5) params[j] = [params[j]![0], 'z'.repeat(3000)];
  // op 6, 7: the genuine callback (each is used once by the app; a second use is a replay)
  const query = params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
  return { kind: `oauth-callback#${op}`, method: 'GET', path: `/oauth/callback?${query}` };
}

function malformedBody(rng: Rng, p: Portals): Case {
  const path = pick(rng, ['/install', `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`, `/webhooks/${p.fresh[0]!.memberId}/event`]);
  const forms = ['a=%zz&b=%&c=%E0%A4%A', '&&&==&', '=x', '[]=1', 'a[=1', 'a]=1', 'a[b=1', '%00=%00', 'event', 'event=&auth=', 'auth[member_id][]=x&event=ONCRMDEALADD', 'event[]=ONCRMDEALADD&event[]=ONAPPUNINSTALL', `event=ONCRMDEALADD&auth[member_id]=${p.a.memberId}&auth[member_id]=${p.x.memberId}`, '\u0000\u0001\u0002', randomLatin1(rng, 64)];
  const jsons = ['{', '{"a":', '[]', 'null', '"str"', '1', 'true', '{"a":1}garbage', '{"event":{"$gt":""}}', '{"__proto__":{"polluted":1},"event":"ONCRMDEALADD"}', '{"constructor":{"prototype":{"polluted":1}}}', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"event":"ONCRMDEALADD","auth":[]}', `{"event":"ONCRMDEALADD","auth":{"member_id":["${p.a.memberId}"]}}`, '\uFEFF{}', '{"a":"\\ud800"}'];
  const json = chance(rng, 0.5);
  return { kind: json ? 'malformed-json' : 'malformed-form', method: 'POST', path, headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' }, body: json ? pick(rng, jsons) : pick(rng, forms) };
}

function bomb(rng: Rng, p: Portals): Case {
  const path = pick(rng, ['/install', `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`, '/oauth/start', '/oauth/callback', '/health']);
  const get = !path.startsWith('/install') && !path.startsWith('/webhooks') && !path.startsWith('/robots');
  const which = Math.floor(rng() * 6);
  let text: string;
  // 10k parameters: in a body (a query string that long is over Node's 16 KiB header limit: see the raw-socket probes)
  if (which === 0) text = Array.from({ length: get ? 1500 : 10_000 }, (_, n) => `k${n}=${n}`).join('&');
  else if (which === 1) text = Array.from({ length: 1000 }, (_, n) => `k${n}=${n}`).join('&'); // the limit exactly
  else if (which === 2) text = Array.from({ length: 1001 }, (_, n) => `k${n}=${n}`).join('&'); // one over
  else if (which === 3) text = `a${'[a]'.repeat(100)}=1`; // 100 deep
  else if (which === 4) text = `a${'[a]'.repeat(10)}=1&b${'[b]'.repeat(11)}=1`; // the depth limit and one over
  else text = Array.from({ length: 1500 }, () => 'ids[]=1').join('&'); // a list over 1000 elements
  if (get) return { kind: `bomb#${which}-query`, method: 'GET', path: `${path}?${text}` };
  return { kind: `bomb#${which}`, method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: text };
}

function hostilePath(rng: Rng, p: Portals): Case {
  const sql = pick(rng, SQL);
  const segment = pick(rng, [encodeURIComponent(sql), sql.replace(/ /g, '%20'), '%00', 'a%00b', '%zz', '%', '%E0%A4%A', '..%2f..%2f', '%2e%2e', 'x'.repeat(4000), '𝔘', encodeURIComponent('𝔘ñí'), '%C0%AE%C0%AE']);
  const path = pick(rng, [
    `/webhooks/${segment}/event`,
    `/robots/${segment}/${ROBOT}`,
    `/robots/${p.a.memberId}/${segment}`,
    `/${segment}`,
    `/install/${segment}`,
    `/oauth/${segment}`,
    `/webhooks/${p.a.memberId}/${segment}`,
    '/webhooks//event',
    `/robots/${p.a.memberId}/`,
    '/health/',
    '/HEALTH',
    '//health',
    '/health?',
    '/./health',
    '/health/..',
    '/metrics%00',
    `/webhooks/${p.a.memberId}/event/../../install`,
    '/favicon.ico',
    '/.env',
    '/admin',
  ]);
  const method = path.startsWith('/webhooks') || path.startsWith('/robots') || path.startsWith('/install') ? 'POST' : 'GET';
  return method === 'POST'
    ? { kind: 'path', method, path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: formBody(eventForm(p.a, 'ONCRMDEALADD', { FIELDS: { ID: '1' } })) }
    : { kind: 'path', method, path };
}

function wrongMethod(rng: Rng, p: Portals): Case {
  const path = pick(rng, [...KNOWN_PATHS, `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`, '/nope']);
  const method = pick(rng, METHODS);
  const withBody = method !== 'GET' && method !== 'HEAD' && chance(rng, 0.6);
  return {
    kind: `method-${method}`,
    method,
    path,
    ...(withBody ? { headers: { 'content-type': pick(rng, ['application/x-www-form-urlencoded', 'application/json', 'text/plain']) }, body: pick(rng, ['a=1', '{}', 'x']) } : {}),
  };
}

function headerFuzz(rng: Rng, p: Portals): Case {
  const path = pick(rng, ['/install', `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`, '/health', '/metrics', '/oauth/start?domain=acme.bitrix24.com']);
  const post = path.startsWith('/install') || path.startsWith('/webhooks') || path.startsWith('/robots');
  const headers: Record<string, string> = {};
  const which = Math.floor(rng() * 6);
  if (which === 0) headers['x-fuzz'] = 'h'.repeat(14_000); // large, under Node's 16 KiB header limit
  else if (which === 1) for (let n = 0; n < 100; n += 1) headers[`x-fuzz-${n}`] = 'v'.repeat(100);
  else if (which === 2) headers.cookie = `session=${'c'.repeat(8000)}`;
  else if (which === 3) headers['x-forwarded-for'] = "1.2.3.4, ' OR 1=1 --";
  else if (which === 4) headers['content-encoding'] = pick(rng, ['gzip', 'br', 'deflate']);
  else headers.authorization = `Bearer ${'t'.repeat(6000)}`;
  if (!post) return { kind: `header#${which}`, method: 'GET', path, headers };
  const body = chance(rng, 0.5) ? '' : formBody(eventForm(p.a, 'ONCRMDEALADD', { FIELDS: { ID: '2' } }));
  if (chance(rng, 0.7)) headers['content-type'] = chance(rng, 0.5) ? 'application/x-www-form-urlencoded' : pick(rng, CONTENT_TYPES);
  return { kind: `header#${which}`, method: 'POST', path, headers, body };
}

/** Bodies at the 1 MiB limit: one byte under, exactly, one byte over; form, JSON and a wrong type. */
function sizeCases(p: Portals): Case[] {
  const cases: Case[] = [];
  const paths = ['/install', `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`, '/nowhere'];
  for (const size of [MiB - 1, MiB, MiB + 1]) {
    for (const path of paths) {
      const base = formBody(eventForm(p.a, 'ONCRMDEALADD', { FIELDS: { ID: String(size) } }, { ts: String(size) }));
      const form = `${base}&pad=`;
      cases.push({ kind: `size-${size}-form`, method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form + 'x'.repeat(size - form.length), ...(size > MiB ? { expectStatus: 413 } : {}) });
      const json = '{"event":"ONCRMDEALADD","pad":"';
      cases.push({ kind: `size-${size}-json`, method: 'POST', path, headers: { 'content-type': 'application/json' }, body: `${json}${'j'.repeat(size - json.length - 2)}"}`, ...(size > MiB ? { expectStatus: 413 } : {}) });
      cases.push({ kind: `size-${size}-text`, method: 'POST', path, headers: { 'content-type': 'text/plain' }, body: 't'.repeat(size) });
    }
  }
  return cases;
}

function generate(seed: number, p: Portals): Case[] {
  const rng = mulberry32(seed);
  const cases: Case[] = sizeCases(p);
  // the plain cases first: every route, genuine method, nothing odd
  for (const path of ['/health', '/ready', '/metrics', '/oauth/start?domain=acme.bitrix24.com', '/oauth/callback', '/nowhere']) cases.push({ kind: 'plain', method: 'GET', path });
  for (const path of ['/install', `/webhooks/${p.a.memberId}/event`, `/robots/${p.a.memberId}/${ROBOT}`]) cases.push({ kind: 'empty-body', method: 'POST', path }, { kind: 'empty-form', method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' }, { kind: 'empty-json', method: 'POST', path, headers: { 'content-type': 'application/json' }, body: '' });
  let n = 0;
  while (cases.length < COUNT) {
    n += 1;
    const r = rng();
    if (r < 0.5) cases.push(mutate(rng, genuine(rng, p, n), p));
    else if (r < 0.58) cases.push(oauthCase(rng, p));
    else if (r < 0.68) cases.push(malformedBody(rng, p));
    else if (r < 0.73) cases.push(bomb(rng, p));
    else if (r < 0.83) cases.push(hostilePath(rng, p));
    else if (r < 0.91) cases.push(wrongMethod(rng, p));
    else if (r < 0.97) cases.push(headerFuzz(rng, p));
    else cases.push({ kind: 'probe', method: 'GET', path: pick(rng, ['/health', '/ready', '/metrics']) + (chance(rng, 0.5) ? `?${pick(rng, SQL)}=${pick(rng, BAD_PERCENT)}` : '') });
  }
  return cases;
}

interface Outcome {
  sent: Case;
  answer?: Answer;
  error?: string;
}

/** Runs the cases `concurrency` at a time, in order of generation. */
async function runAll(baseUrl: string, cases: Case[], concurrency: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array<Outcome>(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= cases.length) return;
      const sent = cases[index]!;
      try {
        outcomes[index] = { sent, answer: await send(baseUrl, sent, TIMEOUT_MS) };
      } catch (error) {
        outcomes[index] = { sent, error: `${(error as Error).name}: ${(error as Error).message}` };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

/** Every broken invariant of one answer, as text (empty when it is fine). */
function violations(outcome: Outcome, secrets: readonly string[]): string[] {
  const { sent, answer } = outcome;
  const where = `${sent.kind} ${sent.method} ${sent.path.slice(0, 120)}`;
  if (!answer) return [`${where}: no answer (${outcome.error})`];
  const found: string[] = [];
  if (answer.status >= 500) found.push(`${where}: ${answer.status} ${answer.text.slice(0, 200)}`);
  if (answer.ms > TIMEOUT_MS) found.push(`${where}: took ${Math.round(answer.ms)} ms`);
  if (STACK.test(answer.text)) found.push(`${where}: stack or source path in the answer: ${answer.text.slice(0, 300)}`);
  for (const secret of secrets) if (answer.text.includes(secret)) found.push(`${where}: a secret in the answer`);
  if (sent.expectStatus !== undefined && answer.status !== sent.expectStatus) found.push(`${where}: ${answer.status}, expected ${sent.expectStatus}`);
  if (answer.status >= 400 && answer.status < 500 && sent.method !== 'HEAD') {
    let body: { error?: unknown; message?: unknown } | undefined;
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      body = undefined;
    }
    if (!body || typeof body.error !== 'string' || !ERROR_CODE.test(body.error) || typeof body.message !== 'string') {
      found.push(`${where}: ${answer.status} not in the B24 error shape: ${answer.contentType} ${answer.text.slice(0, 200)}`);
    }
  }
  return found;
}

/** The heap in use after a full collection (when gc can be reached). */
function heapAfterGc(gc: (() => void) | undefined): { heapUsed: number; rss: number } {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, rss: usage.rss };
}

function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

describe(`fuzz battery (seed ${SEED}, ${COUNT} requests, ${CONCURRENCY} at a time)`, () => {
  let t: TestApp;
  let portals: Portals;
  /** An installed portal the fuzz never names: the after-check's genuine event comes from it. */
  let d: EmulatorInstall;
  const secretKey = randomBytes(32);
  const secrets = new Set<string>();
  const ran: string[] = [];
  let outcomes: Outcome[] = [];
  let memory: { before: { heapUsed: number; rss: number }; after: { heapUsed: number; rss: number }; gc: boolean };

  before(async () => {
    t = await startTestApp(
      (app) => {
        app.on('ONCRMDEALADD', (ctx) => void ran.push(ctx.portal.memberId));
        // fire-and-forget: the fuzz's robot calls carry made-up event tokens that nothing could answer
        app.robot({ code: ROBOT, name: 'Score', useSubscription: false, properties: { weight: { Name: 'Weight', Type: 'int' } } }, () => undefined);
      },
      { config: { secretKey } },
    );
    const [a, x, o] = [await t.install(), await t.install(), await t.install()];
    d = await t.install();
    const fresh: EmulatorInstall[] = [];
    for (let n = 0; n < 6; n += 1) fresh.push(await emulatorInstall(t.emu, null, UNLIMITED_PORTAL));
    const callbacks: URL[] = [];
    for (let n = 0; n < 12; n += 1) {
      const start = await fetch(`${t.url}/oauth/start?domain=${o.domain}`, { redirect: 'manual' });
      const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
      const callback = new URL(authorize.headers.get('location')!);
      callbacks.push(callback);
      for (const name of ['code', 'state']) secrets.add(callback.searchParams.get(name)!);
    }
    portals = { a: a!, fresh, x: x!, o: o!, callbacks };
    for (const install of [a!, x!, o!, d, ...fresh]) for (const value of [install.access_token, install.refresh_token, install.application_token]) secrets.add(value);
    secrets.add(t.emu.emulator.options.clientSecret);
    for (const encoding of ['hex', 'base64', 'base64url'] as const) secrets.add(secretKey.toString(encoding));
  });
  after(() => t?.close());

  it('runs every generated request to an answer', async (ctx) => {
    const gc = exposeGc();
    const cases = generate(SEED, portals);
    assert.ok(cases.length >= 2000);
    const beforeRun = heapAfterGc(gc);
    const started = Date.now();
    outcomes = await runAll(t.url, cases, CONCURRENCY);
    const elapsed = Date.now() - started;
    memory = { before: beforeRun, after: heapAfterGc(gc), gc: gc !== undefined };
    const histogram = new Map<string, number>();
    for (const { sent, answer } of outcomes) {
      const key = `${sent.kind.replace(/#.*$/, '')} ${answer?.status ?? 'error'}`;
      histogram.set(key, (histogram.get(key) ?? 0) + 1);
    }
    ctx.diagnostic(`${outcomes.length} requests in ${elapsed} ms`);
    ctx.diagnostic([...histogram].sort().map(([key, count]) => `${key}: ${count}`).join(', '));
    const hung = outcomes.filter((outcome) => !outcome.answer);
    assert.deepEqual(hung.map((outcome) => violations(outcome, [])[0]), [], 'every request answered within 5 s');
  });

  it('no 5xx, no stack trace, no secret, every 4xx in the B24 error shape', () => {
    const found = outcomes.flatMap((outcome) => violations(outcome, [...secrets]));
    assert.deepEqual(found.slice(0, 30), [], `${found.length} violations`);
  });

  it('the genuine requests among them got through (the fuzz reached the deep paths)', () => {
    const accepted = (kind: string): number => outcomes.filter(({ sent, answer }) => sent.kind.startsWith(kind) && answer !== undefined && answer.status === 200).length;
    assert.ok(accepted('event/') > 10, `events accepted: ${accepted('event/')}`);
    assert.ok(accepted('robot/') > 5, `robot calls accepted: ${accepted('robot/')}`);
    assert.ok(accepted('install/') + accepted('ui-install/') >= 1, 'an install went through');
    assert.ok(accepted('oauth-callback') >= 1, 'a genuine callback went through');
  });

  it('the heap stays bounded', (ctx) => {
    const growth = memory.after.heapUsed - memory.before.heapUsed;
    ctx.diagnostic(`heapUsed ${mb(memory.before.heapUsed)} → ${mb(memory.after.heapUsed)} MB, rss ${mb(memory.before.rss)} → ${mb(memory.after.rss)} MB (gc ${memory.gc ? 'forced' : 'not available'})`);
    assert.ok(growth < 200 * MiB, `heapUsed grew by ${mb(growth)} MB`);
    assert.ok(memory.after.rss - memory.before.rss < 400 * MiB, `rss grew by ${mb(memory.after.rss - memory.before.rss)} MB`);
  });

  it('the store still works: a genuine event is queued and its job runs; no table was dropped', async () => {
    const answer = await send(t.url, { method: 'POST', path: `/webhooks/${d.memberId}/event`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: formBody(eventForm(d, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }, { ts: '1999999999' })) });
    assert.deepEqual([answer.status, JSON.parse(answer.text)], [200, { status: 'queued' }]);
    await waitFor(() => ran.includes(d.memberId), 10_000, 'the genuine event’s job to run');
    const row = await t.store.one<{ n: number }>('SELECT COUNT(*) AS n FROM portals');
    assert.ok(Number(row?.n) >= 4);
    for (const table of ['oauth_states', 'b24kit_jobs', 'b24kit_event_inbox']) await t.store.one(`SELECT COUNT(*) AS n FROM ${table}`);
    // `__proto__[polluted]`, `constructor[prototype][polluted]` were in the forms and JSON bodies
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    const stored = await t.store.one<{ state: string }>('SELECT state FROM portals WHERE member_id = ?', [d.memberId]);
    assert.equal(stored?.state, 'active');
  });

  it('no log line holds a token, the client secret or the secret key', async () => {
    // tokens the app obtained during the run (code exchanges of the genuine callbacks)
    const registry = (await appInternals(t.app).services()).portals;
    for (const install of [portals.a, portals.x, portals.o, d, ...portals.fresh]) {
      const portal = await registry.info(install.memberId);
      if (portal) {
        const full = await registry.require(install.memberId);
        for (const value of [full.accessToken, full.refreshToken, full.applicationToken]) if (value && value.length >= 8) secrets.add(value);
      }
    }
    assert.ok(t.logs.length > 1000, `the run was logged (${t.logs.length} lines)`);
    const leaks: string[] = [];
    for (const line of t.logs) for (const secret of secrets) if (line.includes(secret)) leaks.push(line.slice(0, 300));
    assert.deepEqual(leaks.slice(0, 10), [], `${leaks.length} log lines hold a secret`);
  });
});

function mb(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** Bytes over a raw socket: for what no HTTP client will send (a NUL in the request line, an unknown method, a header over Node's limit). */
async function rawHttp(baseUrl: string, bytes: string): Promise<{ status: number; text: string; ms: number }> {
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('hung'));
    }, TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text: text.slice(text.indexOf('\r\n\r\n') + 4), ms: performance.now() - started });
    });
    socket.write(bytes, 'latin1', () => socket.end());
  });
}

describe('malformed HTTP below the router (raw socket)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(() => {});
  });
  after(() => t?.close());

  const PROBES: Array<[string, string]> = [
    ['NUL in the request line', 'GET /health\u0000 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['unknown method', 'FOO /health HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['header over 16 KiB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`],
    ['10k query parameters (a request line over 16 KiB)', `GET /oauth/start?${Array.from({ length: 10_000 }, (_, n) => `k${n}=${n}`).join('&')} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['header line without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'],
    ['Content-Length and Transfer-Encoding both', 'POST /install HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a bad chunk size', 'POST /install HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
    ['HTTP/9.9', 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n'],
  ];

  it('each is refused with a 4xx, promptly, without a stack', async () => {
    for (const [what, bytes] of PROBES) {
      const answer = await rawHttp(t.url, bytes);
      assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status}`);
      assert.ok(!STACK.test(answer.text), `${what}: ${answer.text}`);
    }
  });

  it(
    'each answers in the B24 error shape',
    async () => {
      const wrong: string[] = [];
      for (const [what, bytes] of PROBES) {
        const answer = await rawHttp(t.url, bytes);
        let code: unknown;
        try {
          code = (JSON.parse(answer.text) as { error?: unknown }).error;
        } catch {
          code = undefined;
        }
        if (typeof code !== 'string' || !ERROR_CODE.test(code)) wrong.push(`${what}: ${answer.status} ${answer.text}`);
      }
      assert.deepEqual(wrong, []);
    },
  );
});
