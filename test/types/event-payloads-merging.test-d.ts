/**
 * Compile-time test (`npm run typecheck`, never run): an app types its own events by merging into
 * `EventPayloads` through the package root, as docs/app.md shows. Users write
 * `declare module 'b24kit'`; 'b24kit' resolves to dist/index.d.ts, built from src/index.ts, so
 * augmenting src/index.ts here takes the same path: the root re-exports the interface, and the
 * merge lands on its declaration in src/events/event-types.ts.
 */
import type { EventHandler } from '../../src/app/types.js';
import type { EventDataOf } from '../../src/index.js';

declare module '../../src/index.js' {
  interface EventPayloads {
    /** A made-up event for this test: upper-case, as EventDataOf looks names up upper-cased. */
    ONB24KITTYPETEST: { FIELDS: { ID: string; ENTITY_TYPE_ID: string } };
  }
}

export const merged: EventHandler<'onB24kitTypeTest'> = (ctx) => {
  const entityTypeId: string = ctx.event.data.FIELDS.ENTITY_TYPE_ID;
  // @ts-expect-error the merged entry is typed like any other
  void ctx.event.data.FIELDS.NOPE;
  return entityTypeId;
};

// the documented entries are still there
export function stillThere(data: EventDataOf<'ONCRMDEALADD'>): string {
  return data.FIELDS.ID;
}
