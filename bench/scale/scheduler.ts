/**
 * One scheduler tick over 10,000 portals (each in its own time zone from a handful), a daily
 * schedule: the tick at the slot, when every portal fires (one slot row and one job each), and the
 * tick after it, when nothing is due (the common case: the scheduler ticks every 10 s).
 */
import { JobQueue } from '../../src/queue/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import type { BenchDatabase } from './db.js';

const ZONES = ['UTC', 'Europe/Berlin', 'Europe/Moscow', 'Asia/Almaty', 'America/New_York'];

export interface SchedulerRow {
  dialect: string;
  portals: number;
  fireTickMs: number;
  fired: number;
  idleTickMs: number;
}

export async function measureSchedulerTick(db: BenchDatabase, portalCount: number): Promise<SchedulerRow> {
  const store = await db.open();
  try {
    const portals = Array.from({ length: portalCount }, (_, i) => ({ memberId: `s${String(i).padStart(5, '0')}`, timeZone: ZONES[i % ZONES.length]! }));
    const queue = new JobQueue({ store });
    // every minute, so every portal has a slot due at the tick whatever its zone
    const scheduler = new Scheduler({ store, queue, portals: () => portals }).schedule('sync', '* * * * *');
    const slotMs = Date.UTC(2026, 0, 1, 3, 0);
    let started = performance.now();
    const fire = await scheduler.tick(slotMs + 1_000);
    const fireTickMs = performance.now() - started;
    started = performance.now();
    const idle = await scheduler.tick(slotMs + 11_000);
    const idleTickMs = performance.now() - started;
    if (fire.errors > 0 || idle.fired.length > 0) throw new Error(`unexpected tick: ${fire.errors} errors, ${idle.fired.length} fired when idle`);
    return { dialect: db.dialect, portals: portalCount, fireTickMs, fired: fire.fired.length, idleTickMs };
  } finally {
    await store.close();
  }
}
