/**
 * Compile-time test: `npm run typecheck` checks it (tsconfig.json includes test/); nothing runs it
 * (`npm test` takes `*.test.ts` only). The data of a documented event is typed
 * (src/events/event-types.ts), case-insensitively; any other event's data is `Json`.
 *
 * Every `@ts-expect-error` is an assertion: the typecheck fails when its line compiles. The plain
 * assignments (`const id: string = …FIELDS.ID`) and `expectTrue<Equal<…>>` fail it when the map
 * loses an entry.
 */
import { createApp } from '../../src/app/create-app.js';
import type { EventContext, EventHandler } from '../../src/app/types.js';
import type {
  AppTestEventData,
  AppUninstallEventData,
  CrmEntityEventData,
  EventDataOf,
  EventPayloads,
  OfflineEventPingData,
} from '../../src/events/event-types.js';
import type { Json } from '../../src/queue/types.js';

/** True when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectTrue<T extends true>(): T | void {}

// -- the map: every documented CRM event carries { FIELDS: { ID: string } }
type CrmEvents =
  | 'ONCRMDEALADD'
  | 'ONCRMDEALUPDATE'
  | 'ONCRMDEALDELETE'
  | 'ONCRMCONTACTADD'
  | 'ONCRMCONTACTUPDATE'
  | 'ONCRMCONTACTDELETE'
  | 'ONCRMCOMPANYADD'
  | 'ONCRMCOMPANYUPDATE'
  | 'ONCRMCOMPANYDELETE'
  | 'ONCRMLEADADD'
  | 'ONCRMLEADUPDATE'
  | 'ONCRMLEADDELETE';
expectTrue<Equal<EventPayloads[CrmEvents], CrmEntityEventData>>();
expectTrue<Equal<CrmEntityEventData, { FIELDS: { ID: string } }>>();
expectTrue<Equal<EventDataOf<'ONCRMDEALADD'>, CrmEntityEventData>>();
expectTrue<Equal<EventDataOf<'oncrmdealadd'>, CrmEntityEventData>>();
expectTrue<Equal<EventDataOf<'OnCrmDealDelete'>, CrmEntityEventData>>();
expectTrue<Equal<EventDataOf<'ONAPPUNINSTALL'>, AppUninstallEventData>>();
expectTrue<Equal<EventDataOf<'ONOFFLINEEVENT'>, OfflineEventPingData>>();
// not in the map: the generic Json, also for a name that is only a prefix of a mapped one
expectTrue<Equal<EventDataOf<'ONCRMDYNAMICITEMADD_147'>, Json>>();
expectTrue<Equal<EventDataOf<'ONCRMDEAL'>, Json>>();
// a name that is not a literal cannot pick an entry
expectTrue<Equal<EventDataOf<string>, Json>>();

// -- handlers written against the context types
export const dealAdded: EventHandler<'ONCRMDEALADD'> = (ctx) => {
  const id: string = ctx.event.data.FIELDS.ID;
  // @ts-expect-error FIELDS carries the ID only
  void ctx.event.data.FIELDS.NOPE;
  // @ts-expect-error the ID is a string (form encoding), not a number
  const _asNumber: number = ctx.event.data.FIELDS.ID;
  return id;
};

export const dealAddedLowerCase: EventHandler<'oncrmdealadd'> = (ctx) => {
  const id: string = ctx.event.data.FIELDS.ID;
  return id;
};

export function contactDeleted(ctx: EventContext<'ONCRMCONTACTDELETE'>): string {
  return ctx.event.data.FIELDS.ID;
}

export const uninstalled: EventHandler<'ONAPPUNINSTALL'> = (ctx) => {
  const clean: '0' | '1' = ctx.event.data.CLEAN;
  // @ts-expect-error CLEAN is the string '0' or '1', not a boolean
  const _asBoolean: boolean = ctx.event.data.CLEAN;
  return clean;
};

export const tested: EventHandler<'ONAPPTEST'> = (ctx) => {
  const data: AppTestEventData = ctx.event.data;
  // @ts-expect-error QUERY is absent when event.test was called without parameters
  void data.QUERY.any;
  return data.QUERY?.any;
};

export const pinged: EventHandler<'ONOFFLINEEVENT'> = (ctx) => {
  // @ts-expect-error the ping carries no data (null): nothing to read
  void ctx.event.data.type;
  return ctx.event.data;
};

export const unknownEvent: EventHandler<'ONCRMDYNAMICITEMADD_147'> = (ctx) => {
  const data: Json = ctx.event.data;
  // @ts-expect-error Json must be narrowed before a key is read
  void ctx.event.data.FIELDS;
  // narrowed, it reads like any JSON
  if (data && typeof data === 'object' && !Array.isArray(data)) return data.FIELDS;
  return undefined;
};

// -- the same through the app: `on` passes the event name through to the handler's context
export function declaredOnTheApp(): void {
  const app = createApp();
  app.on('ONCRMDEALADD', (ctx) => {
    const id: string = ctx.event.data.FIELDS.ID;
    // @ts-expect-error FIELDS carries the ID only
    void ctx.event.data.FIELDS.NOPE;
    // @ts-expect-error the ID is a string, not a number
    const _asNumber: number = ctx.event.data.FIELDS.ID;
    return id;
  });
  app.on('oncrmleadupdate', (ctx) => {
    const id: string = ctx.event.data.FIELDS.ID;
    return id;
  });
  app.on('ONCRMDEALUPDATE', (ctx) => ctx.event.data.FIELDS.ID, { offline: true });
  app.on('ONSOMETHINGELSE', (ctx) => {
    const data: Json = ctx.event.data;
    // @ts-expect-error an unknown event's data is Json: narrow it first
    void ctx.event.data.FIELDS;
    return data;
  });
}
