/**
 * The app every process of the chaos run loads (`b24kit web|worker|start --app bench/chaos/app.ts`,
 * and bench/chaos/scheduler.ts). One event, one side effect: each ONCRMDEALUPDATE creates one deal
 * whose ORIGIN_ID is the event's number, inside `ctx.once`. The deal is looked up by
 * ORIGINATOR_ID + ORIGIN_ID first (docs/protocol.md §6.3): that closes the window `ctx.once`
 * leaves — the deal was added but the worker died before the memo was stored — and the run counts
 * how often the look-up found one (the warning FOUND_BY_ORIGIN_ID).
 *
 * Settings come from the environment (the run sets them): CHAOS_DRAIN_PER_SECOND and CHAOS_BURST
 * (the portals' bucket, as the emulator was told), CHAOS_LEASE_MS (the job lease).
 */
import { createApp } from '../../src/index.js';
import { CHAOS_ORIGINATOR, FOUND_BY_ORIGIN_ID } from './shared.js';

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const app = createApp({
  rest: { limits: { drainPerSecond: numberFromEnv('CHAOS_DRAIN_PER_SECOND', 2), burst: numberFromEnv('CHAOS_BURST', 50) } },
  queue: { leaseMs: numberFromEnv('CHAOS_LEASE_MS', 30_000) },
});

app.on('ONCRMDEALUPDATE', async (ctx) => {
  const originId = `chaos-${ctx.event.data.FIELDS.ID}`;
  await ctx.once('deal', async () => {
    const found = await ctx.b24.call<Array<{ ID: string }>>('crm.deal.list', {
      filter: { ORIGINATOR_ID: CHAOS_ORIGINATOR, ORIGIN_ID: originId },
      select: ['ID'],
      start: -1,
    });
    const existing = found.result[0];
    if (existing) {
      // a warning: the previous run of this job added the deal and died before ctx.once stored it
      ctx.log.warn({ originId, dealId: existing.ID }, FOUND_BY_ORIGIN_ID);
      return Number(existing.ID);
    }
    const added = await ctx.b24.call<number>('crm.deal.add', { fields: { TITLE: `Chaos ${originId}`, ORIGINATOR_ID: CHAOS_ORIGINATOR, ORIGIN_ID: originId } });
    return added.result;
  });
});

// something for the scheduler role to fire: one job per portal per minute, whichever process fires it
app.schedule('chaos-minute', '* * * * *', () => undefined);

export default app;
