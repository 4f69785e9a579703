import type { MethodContext, MethodRegistry } from '../methods/registry.js';
import { RestError, restErrors } from '../rest-error.js';
import { eventAvailable, eventNames, eventProfile } from './catalog.js';
import { checkHandlerUrl } from './handler-url.js';
import { intOf, objectOf, stringOf, upperKeys } from './param.js';

/** event.*, events, event.offline.* (docs/protocol.md §3). All need an OAuth app (webhooks: WRONG_AUTH_TYPE). */
export function registerEventMethods(registry: MethodRegistry): void {
  registry.define('events', { scope: 'basic', appContextOnly: true, handler: eventsList });
  registry.define('event.bind', { scope: 'basic', appContextOnly: true, handler: eventBind });
  registry.define('event.unbind', { scope: 'basic', appContextOnly: true, handler: eventUnbind });
  registry.define('event.get', { scope: 'basic', appContextOnly: true, handler: eventGet });
  registry.define('event.offline.get', { scope: 'basic', appContextOnly: true, adminOnly: true, handler: offlineGet });
  registry.define('event.offline.clear', { scope: 'basic', appContextOnly: true, adminOnly: true, handler: offlineClear });
  registry.define('event.offline.error', { scope: 'basic', appContextOnly: true, adminOnly: true, handler: offlineError });
  registry.define('event.offline.list', { scope: 'basic', appContextOnly: true, adminOnly: true, handler: offlineList });
}

function isAdmin(ctx: MethodContext): boolean {
  return ctx.portal.users.get(ctx.auth.userId)?.ADMIN === true;
}

/** Bitrix's ArgumentNullException as the REST layer answers it. */
function argumentNull(name: string): RestError {
  return restErrors.argument(`Argument '${name}' is null or empty`, name);
}

function eventTypeOf(query: Record<string, unknown>): 'online' | 'offline' {
  const type = stringOf(query.EVENT_TYPE).toLowerCase();
  if (type === '') return 'online';
  if (type !== 'online' && type !== 'offline') throw restErrors.argument('Value must be one of {online|offline}', 'EVENT_TYPE');
  return type;
}

/** `events {SCOPE?, FULL?}`: upper-case names available to the app (docs/protocol.md §3.2). */
function eventsList(ctx: MethodContext) {
  const query = upperKeys(ctx.params);
  const scope = stringOf(query.SCOPE);
  const full = query.FULL === true || ['1', 'true', 'Y'].includes(stringOf(query.FULL));
  if (scope !== '') return { result: eventNames((s) => s === scope) };
  if (full) return { result: eventNames(() => true) };
  return { result: eventNames((s) => s === 'basic' || ctx.auth.scope.includes(s)) };
}

/** `event.bind` (docs/protocol.md §3.1; the core's Event::eventBind). */
function eventBind(ctx: MethodContext) {
  const query = upperKeys(ctx.params);
  const event = stringOf(query.EVENT).toUpperCase();
  const type = eventTypeOf(query);
  let userId = intOf(query.AUTH_TYPE);
  let handler = stringOf(query.HANDLER);
  const admin = isAdmin(ctx);

  if (userId > 0) {
    if (!admin && userId !== ctx.auth.userId) {
      throw restErrors.accessDenied('Access denied! Event binding with AUTH_TYPE requires administrator access rights');
    }
  } else if (!admin) {
    userId = ctx.auth.userId;
  } else {
    userId = 0;
  }
  if (event === '') throw argumentNull('EVENT');
  if (type === 'offline') {
    if (!admin) throw restErrors.accessDenied('Access denied! Offline events binding requires administrator access rights');
    handler = '';
    userId = 0;
  } else if (handler === '') {
    throw argumentNull('HANDLER');
  }
  if (handler !== '') checkHandlerUrl(handler, ctx.emulator.options.relax);

  if (!eventAvailable(event, ctx.auth.scope)) throw new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
  const profile = eventProfile(event)!;
  if (type === 'offline' && profile.disableOffline) {
    throw restErrors.argument('Offline event cannot be registered for this event.');
  }
  const options: Record<string, number> = {};
  const rawOptions = objectOf(query.OPTIONS) ?? {};
  for (const [name, kind] of Object.entries(profile.allowOptions)) {
    if (rawOptions[name] !== undefined && kind === 'int') options[name] = intOf(rawOptions[name]);
  }
  try {
    ctx.portal.events.bind({ event, handler, userId, offline: type === 'offline', connectorId: type === 'offline' ? ctx.authConnector : '', options });
  } catch {
    // UNCONFIRMED: the docs' example code; the core would answer ERROR_CORE "Unable to set event handler: …"
    throw new RestError(400, 'ERROR_HANDLER_ALREADY_EXIST', 'Handler already exists!');
  }
  return { result: true };
}

/** `event.unbind` → `{count}` (docs/protocol.md §3.2). */
function eventUnbind(ctx: MethodContext) {
  const query = upperKeys(ctx.params);
  const event = stringOf(query.EVENT).toUpperCase();
  const type = eventTypeOf(query);
  const admin = isAdmin(ctx);
  if (event === '') throw argumentNull('EVENT');
  let handler = stringOf(query.HANDLER);
  let userFilter: number | undefined;
  if (type === 'offline') {
    if (!admin) throw restErrors.accessDenied('Access denied! Offline events unbinding requires administrator access rights');
    handler = '';
  } else {
    if (handler === '') throw argumentNull('HANDLER');
    if (query.AUTH_TYPE !== undefined) {
      // auth_type=0 or '' removes only the handlers bound with an empty auth_type
      userFilter = intOf(query.AUTH_TYPE);
      if (!admin && userFilter !== ctx.auth.userId) {
        throw restErrors.accessDenied('Access denied! Event unbinding with AUTH_TYPE requires administrator access rights');
      }
    } else if (!admin) {
      userFilter = ctx.auth.userId;
    }
  }
  const count = ctx.portal.events.unbind(
    (b) =>
      b.event === event &&
      b.handler === handler &&
      b.offline === (type === 'offline') &&
      (type === 'offline' ? b.connectorId === ctx.authConnector : userFilter === undefined || b.userId === userFilter),
  );
  return { result: { count } };
}

/** `event.get`: online `{event, handler, auth_type, offline:0}`, offline `{event, connector_id, offline:1}`. */
function eventGet(ctx: MethodContext) {
  const admin = isAdmin(ctx);
  const result = ctx.portal.events.bindings
    .filter((b) => admin || b.userId === ctx.auth.userId)
    .map((b) =>
      b.offline
        ? { event: b.event, connector_id: b.connectorId, offline: 1 }
        : { event: b.event, handler: b.handler, auth_type: String(b.userId), offline: 0 },
    );
  return { result };
}

/** `event.offline.get` (docs/protocol.md §3.6). */
function offlineGet(ctx: MethodContext) {
  const query = lowerKeys(ctx.params);
  const clear = query.clear === undefined ? true : intOf(query.clear) !== 0;
  const processId = query.process_id === undefined ? null : stringOf(query.process_id);
  const limit = query.limit === undefined ? 50 : intOf(query.limit);
  const answer = ctx.portal.events.offline.get({
    filter: query.filter,
    order: query.order,
    limit,
    clear,
    processId,
    connectorId: ctx.authConnector,
    error: intOf(query.error) === 1,
  });
  ctx.work.rowsReturned = answer.events.length;
  if (clear) ctx.work.write = true;
  return { result: answer };
}

/** `event.offline.clear {process_id, id[]?, message_id[]?}` → true. */
function offlineClear(ctx: MethodContext) {
  const query = lowerKeys(ctx.params);
  if (query.process_id === undefined) throw argumentNull('PROCESS_ID');
  const processId = stringOf(query.process_id);
  let ids: number[] | null = null;
  let messageIds: string[] | null = null;
  // the docs: message_id is ignored when id is given (the core checks message_id first; we follow the docs)
  if (query.id !== undefined) {
    const list = listOf(query.id);
    if (!list) throw restErrors.argument('Value must be array of integers', 'id');
    ids = list.map((value) => {
      const id = intOf(value);
      if (id <= 0) throw restErrors.argument('Value must be array of integers', 'id');
      return id;
    });
  } else if (query.message_id !== undefined) {
    messageIds = messageIdList(query.message_id);
  }
  ctx.work.write = true;
  ctx.portal.events.offline.clear(processId, ctx.authConnector, ids, messageIds);
  return { result: true };
}

/** `event.offline.error {process_id, message_id[]}` → true. */
function offlineError(ctx: MethodContext) {
  const query = lowerKeys(ctx.params);
  if (query.process_id === undefined) throw argumentNull('PROCESS_ID');
  const list = listOf(query.message_id);
  if (!list) throw restErrors.argument('Value must be array of MESSAGE_ID values', 'message_id');
  ctx.work.write = true;
  if (list.length > 0) ctx.portal.events.offline.markError(stringOf(query.process_id), ctx.authConnector, list.map(stringOf));
  return { result: true };
}

/** `event.offline.list {filter, order, start}`: read-only, 50 per page, with total. */
function offlineList(ctx: MethodContext) {
  const query = lowerKeys(ctx.params);
  const start = Math.max(0, intOf(query.start));
  const page = ctx.portal.events.offline.list(query.filter, query.order, start, ctx.authConnector);
  ctx.work.rowsReturned = page.items.length;
  ctx.work.countedTableRows = page.total;
  return { result: page.items, total: page.total, ...(page.next !== undefined ? { next: page.next } : {}) };
}

function lowerKeys(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) out[key.toLowerCase()] = value;
  return out;
}

/** An array param: a JSON array, or the object a form `id[0]=…` sometimes decodes to. */
function listOf(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  const object = objectOf(value);
  return object ? Object.values(object) : undefined;
}

function messageIdList(value: unknown): string[] {
  const list = listOf(value);
  if (!list) throw restErrors.argument('Value must be array of MESSAGE_ID values', 'message_id');
  return list.map((item) => {
    const id = stringOf(item);
    if (id.length !== 32) throw restErrors.argument('Value must be array of MESSAGE_ID values', 'message_id');
    return id;
  });
}
