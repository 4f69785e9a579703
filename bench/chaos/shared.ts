/** What the chaos app (app.ts) and the run (run-chaos.ts) agree on, without loading the app. */

/** ORIGINATOR_ID of every deal the chaos app adds. */
export const CHAOS_ORIGINATOR = 'b24kit-chaos';

/** The log line of a handler that found its deal by ORIGIN_ID (ctx.once's window, closed). */
export const FOUND_BY_ORIGIN_ID = 'chaos: deal found by ORIGIN_ID';
