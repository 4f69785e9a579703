/**
 * Payload types of the documented events, by name: `app.on('ONCRMDEALADD', ctx => ctx.event.data.FIELDS.ID)`
 * compiles with the right type. Names not in the map get the generic `Json`.
 */
import type { Json } from '../queue/types.js';

/** `data` of each documented event (placeholder: filled in by the typed-events work). */
export interface EventPayloads {}

/** The `data` type of event `E` (case-insensitive), or `Json` for an event not in the map. */
export type EventDataOf<E extends string> = Uppercase<E> extends keyof EventPayloads ? EventPayloads[Uppercase<E>] : Json;
