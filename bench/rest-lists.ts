/**
 * What a list costs the portal (issue 13): requests and list commands of b24kit's `listAll` and of
 * the official `@bitrix24/b24jssdk`'s `fetchList`, in one run, for a 3-row, a 2,000-row and a
 * 100,000-row selection, and the operating seconds each spent on `crm.deal.list`. Every number is
 * the emulator's (its stats), never the client's. `npm run bench -- rest-lists`.
 *
 * Model: bench/rest.ts's Enterprise portal compressed BENCH_REST_SCALE (default 10) times in time,
 * except the operating window: 600 s (real length) with the real 480 s limit, so that the stats'
 * per-method sum holds a whole run and the budget never binds (each run spends a few seconds).
 */
import type { BenchSection } from './run.js';
import { b24kitClient } from './rest/kit-client.js';
import { sdkClient } from './rest/sdk-client.js';
import os from 'node:os';
import { control, describeModel, freshPortal, portalStats, startEmulatorProcess, type Installed, type Model, type PortalStats } from './rest/common.js';

const SCALE = Number(process.env.BENCH_REST_SCALE ?? 10);
const MODEL: Model = {
  drainPerSecond: 5 * SCALE,
  burst: 250,
  operatingLimitSeconds: 480,
  operatingWindowSeconds: 600,
  cost: { readMs: 20 / SCALE, writeMs: 30 / SCALE, perRowMs: 0.1 / SCALE, countMsPerMillionRows: 1000 / SCALE, simulateLatency: true },
};
const METHOD = 'crm.deal.list';
const SELECT = ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CURRENCY_ID', 'DATE_CREATE'];

interface Selection {
  label: string;
  rows: number;
  filter: Record<string, unknown>;
  /** Seeds a fresh portal so that `filter` matches `rows` deals. */
  seed: (base: string, memberId: string) => Promise<void>;
}

const seed = (base: string, memberId: string, count: number, fields: Record<string, unknown>): Promise<unknown> =>
  control(base, `/portals/${memberId}/crm/seed`, { entity: 'deal', count, fields });

const SELECTIONS: Selection[] = [
  {
    label: '3 deals (STAGE_ID WON) among 5,000',
    rows: 3,
    filter: { STAGE_ID: 'WON' },
    seed: async (base, memberId) => {
      await seed(base, memberId, 2500, { STAGE_ID: 'NEW' });
      await seed(base, memberId, 3, { STAGE_ID: 'WON' });
      await seed(base, memberId, 2497, { STAGE_ID: 'NEW' });
    },
  },
  {
    label: '2,000 deals (STAGE_ID WON) spread over 6,000 (blocks of 10 WON, 20 NEW)',
    rows: 2000,
    filter: { STAGE_ID: 'WON' },
    seed: async (base, memberId) => {
      for (let block = 0; block < 200; block += 1) {
        await seed(base, memberId, 10, { STAGE_ID: 'WON' });
        await seed(base, memberId, 20, { STAGE_ID: 'NEW' });
      }
    },
  },
  {
    label: '100,000 deals (no filter)',
    rows: 100_000,
    filter: {},
    seed: async (base, memberId) => {
      await seed(base, memberId, 100_000, {});
    },
  },
];

interface Cost {
  requests: number;
  commands: number;
  operatingSeconds: number;
  seconds: number;
}

/** The fewest list commands that can return `rows` rows (50 a page, at least one page). */
export const minimumCommands = (rows: number): number => Math.max(1, Math.ceil(rows / 50));
/** The fewest requests: 50 commands per batch. */
export const minimumRequests = (rows: number): number => Math.ceil(minimumCommands(rows) / 50);
/**
 * The fewest requests for a reader that spends ≤ 2 list commands on a list of ≤ 100 rows without
 * knowing the size beforehand: its first request can return at most 100 rows.
 */
export const minimumRequestsUnknownSize = (rows: number): number => 1 + Math.ceil(Math.max(0, rows - 100) / 2500);

async function measure(base: string, selection: Selection, read: (installed: Installed) => Promise<Set<string>>): Promise<Cost> {
  const installed = await freshPortal(base, MODEL);
  await selection.seed(base, installed.member_id);
  await control(base, `/portals/${installed.member_id}/stats/reset`, {});
  const started = performance.now();
  const ids = await read(installed);
  const seconds = (performance.now() - started) / 1000;
  if (ids.size !== selection.rows) throw new Error(`${selection.label}: read ${ids.size} distinct deals, not ${selection.rows}`);
  const stats = (await portalStats(base, installed.member_id)) as PortalStats & { operatingSeconds: Record<string, number> };
  return { requests: stats.requests, commands: stats.byMethod[METHOD] ?? 0, operatingSeconds: stats.operatingSeconds[METHOD] ?? 0, seconds };
}

const kitRead =
  (selection: Selection) =>
  async (installed: Installed): Promise<Set<string>> => {
    const client = b24kitClient(installed, MODEL);
    const rows = await client.listAll<{ ID: string }>(METHOD, { filter: selection.filter, select: SELECT });
    await client.close();
    return new Set(rows.map((row) => row.ID));
  };

const sdkRead =
  (selection: Selection) =>
  async (installed: Installed): Promise<Set<string>> => {
    const b24 = sdkClient(installed, MODEL);
    const ids = new Set<string>();
    for await (const chunk of b24.actions.v2.fetchList.make<{ ID: string }>({ method: METHOD, params: { filter: selection.filter, select: SELECT }, idKey: 'ID' })) {
      for (const row of chunk) ids.add(row.ID);
    }
    return ids;
  };

const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const fmt = (value: number, digits = 2): string => value.toFixed(digits);

export async function run(): Promise<BenchSection> {
  const emulator = await startEmulatorProcess();
  const lines: string[] = [];
  // a shared machine: the load says how much of the wall time was other people's
  const loadBefore = os.loadavg()[0]!;
  try {
    const results: { selection: Selection; kit: Cost; sdk: Cost }[] = [];
    for (const selection of SELECTIONS) {
      console.log(`list cost: ${selection.label} …`);
      // alternate who goes first between selections
      const first = results.length % 2 === 0;
      const a = await measure(emulator.url, selection, first ? kitRead(selection) : sdkRead(selection));
      const b = await measure(emulator.url, selection, first ? sdkRead(selection) : kitRead(selection));
      const [kit, sdk] = first ? [a, b] : [b, a];
      console.log(`  b24kit ${JSON.stringify(kit)}\n  b24jssdk ${JSON.stringify(sdk)}`);
      results.push({ selection, kit, sdk });
    }
    const big = results[results.length - 1]!;
    const bigRows = big.selection.rows;
    lines.push(
      `**100,000-row export: b24kit ${int(big.kit.requests)} requests and ${int(big.kit.commands)} list commands — ` +
        `${fmt(big.kit.requests / minimumRequestsUnknownSize(bigRows), 3)} × the minimum requests of a reader that does not know the size ` +
        `(${minimumRequestsUnknownSize(bigRows)}; ${fmt(big.kit.requests / minimumRequests(bigRows), 3)} × ceil(rows / 2500) = ${minimumRequests(bigRows)}) and ` +
        `${fmt(big.kit.commands / minimumCommands(bigRows), 3)} × the minimum list commands (${int(minimumCommands(bigRows))}); ` +
        `b24jssdk ${int(big.sdk.requests)} requests, ${int(big.sdk.commands)} list commands. A 3-row list: b24kit ${results[0]!.kit.commands} list commands in ` +
        `${results[0]!.kit.requests} request.** Goals (issue 13): ≤ 2 list commands and 1 request for 3 rows; ≤ 1.02 × minimum requests and ` +
        `≤ 1.05 × minimum list commands for 100,000.`,
      '',
      `Model: the Enterprise plan compressed ${SCALE}× in time — ${describeModel(MODEL)}. The operating window is the real 600 s with the real 480 s ` +
        `limit, so the stats' per-method sum (\`operatingSeconds\`) holds a whole run; no run comes near the limit. Operating seconds are the ` +
        `compressed model's (× ${SCALE} for the real portal's costs: 20 ms a list command + 0.1 ms a row). A fresh portal per client and selection; ` +
        `\`select\` ${SELECT.join(', ')}; one run each (the counts do not vary between runs; wall time is shown for scale only).`,
      '',
      `Measured ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ` +
        `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end (a shared machine: the counts do not depend on it, wall times do).`,
      '',
      'Minimum formulas: list commands ≥ max(1, ceil(rows / 50)) (50 rows a page); requests ≥ ceil(commands / 50) (50 commands a batch) = ' +
        'ceil(rows / 2500). A reader that must spend ≤ 2 list commands on a list of ≤ 100 rows without knowing its size reads at most 100 rows ' +
        'in its first request, so it needs ≥ 1 + ceil((rows − 100) / 2500) requests: that is the minimum the 1.02 goal is read against.',
      '',
      '| selection | client | requests | min requests (rows/2500 · unknown size) | list commands | min list commands | ÷ min commands | operating s on crm.deal.list | wall s |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const { selection, kit, sdk } of results) {
      for (const [label, cost] of [
        ['b24kit `listAll`', kit],
        ['b24jssdk `actions.v2.fetchList`', sdk],
      ] as const) {
        lines.push(
          `| ${selection.label} | ${label} | **${int(cost.requests)}** | ${minimumRequests(selection.rows)} · ${minimumRequestsUnknownSize(selection.rows)} | ` +
            `**${int(cost.commands)}** | ${int(minimumCommands(selection.rows))} | ${fmt(cost.commands / minimumCommands(selection.rows))} | ` +
            `${fmt(cost.operatingSeconds, 3)} | ${fmt(cost.seconds)} |`,
        );
      }
    }
    lines.push(
      '',
      'b24kit: the first request carries the first page and the tail (the 50 largest IDs, order ID DESC); up to 100 rows end there. ' +
        'The rest is read in chains bounded by their range’s last ID and sized by the density seen (docs/rest.md, "Lists cost what they return"). ' +
        "b24jssdk's fetchList is the docs' ID cursor without batching: one request per page, one page past the last full one.",
    );
  } finally {
    await emulator.stop();
  }
  return { title: 'REST list cost', markdown: lines.join('\n') };
}
