/**
 * The REST client against the portal's physical limits (docs/protocol.md §5.1, §5.2), side by
 * side with the official `@bitrix24/b24jssdk` in one run, on the same emulator settings,
 * alternating, medians of several runs:
 *
 * 1. bulk write: 10,000 `crm.deal.add` → commands/s ÷ the portal's theoretical maximum;
 * 2. export: 100,000 deals → requests ÷ ceil(N / 2500), and wall time against the peer;
 * 3. shared budget: 4 real processes hammering one portal → 503s and combined rate ÷ the limit.
 *
 * Every count is the portal's (the emulator's stats), never the client's. The emulator runs in its
 * own process (bench/rest/emulator-process.ts) so that client and portal do not share a core.
 *
 * Time scale: the emulator models a real portal compressed in time by BENCH_REST_SCALE (default
 * 10): drain × 10, every server cost ÷ 10, the operating budget ÷ 10 (window 60 s, its minimum).
 * Every ratio the benchmark reports is the same as on the uncompressed portal, except for fixed
 * per-request overheads (HTTP, JSON) that do not shrink. BENCH_REST_SCALE=1 runs the real model
 * (the b24jssdk bulk-write runs then take ~5 min each). BENCH_REST_RUNS sets the runs (default 3).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/store/index.js';
import type { B24ClientEvent } from '../src/rest/hooks.js';
import type { BenchSection } from './run.js';
import { b24kitClient } from './rest/kit-client.js';
import { sdkClient } from './rest/sdk-client.js';
import {
  control,
  describeModel,
  freshPortal,
  median,
  portalStats,
  refusals,
  startEmulatorProcess,
  type Installed,
  type Model,
  WARM_UP_CALLS,
} from './rest/common.js';
import type { HammerJob, HammerResult } from './rest/hammer-worker.js';

const SCALE = Number(process.env.BENCH_REST_SCALE ?? 10);
const RUNS = Math.max(1, Number(process.env.BENCH_REST_RUNS ?? 3));

/** The real portal (the limits of docs/protocol.md §5, the emulator's REALISTIC_COST), compressed `SCALE` times in time. */
function compressed(plan: 'standard' | 'enterprise'): Model {
  const drain = plan === 'enterprise' ? 5 : 2;
  return {
    drainPerSecond: drain * SCALE,
    burst: plan === 'enterprise' ? 250 : 50,
    operatingLimitSeconds: 480 / SCALE,
    operatingWindowSeconds: Math.max(60, Math.round(600 / SCALE)),
    cost: { readMs: 20 / SCALE, writeMs: 30 / SCALE, perRowMs: 0.1 / SCALE, countMsPerMillionRows: 1000 / SCALE, simulateLatency: true },
  };
}

const fmt = (value: number, digits = 2): string => value.toFixed(digits);
/** "goal met" / "goal missed" for a ratio rounded as reported. */
const verdict = (value: number, goal: number, atLeast: boolean): string =>
  (atLeast ? Number(fmt(value)) >= goal : Number(fmt(value)) <= goal) ? 'goal met' : '**goal missed**';
const int = (value: number): string => Math.round(value).toLocaleString('en-US');

interface Outcome {
  seconds: number;
  requests: number;
  s503: number;
  s429: number;
  /** Work done as the portal saw it (commands or 200 answers). */
  done: number;
  /** Commands the portal ran (a batch's commands each). */
  commands: number;
  /** b24kit: calls its limiter held back (bucket or operating), from its events. */
  limiterWaits?: number;
  note?: string;
}

interface Row {
  label: string;
  runs: Outcome[];
}

/**
 * Runs every contender once per round, alternating who goes first, after one unmeasured warm-up
 * each (a small workload: code paths compiled on both sides, as in a long-running app).
 */
async function rounds(contenders: { label: string; once: () => Promise<Outcome>; warmUp?: () => Promise<unknown> }[]): Promise<Row[]> {
  const rows: Row[] = contenders.map(({ label }) => ({ label, runs: [] }));
  for (const contender of contenders) await contender.warmUp?.();
  for (let round = 0; round < RUNS; round += 1) {
    const order = contenders.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const outcome = await contenders[index]!.once();
      rows[index]!.runs.push(outcome);
      console.log(`  ${contenders[index]!.label} run ${round + 1}: ${fmt(outcome.seconds)} s, ${outcome.requests} requests, ${outcome.s503} × 503, ${outcome.s429} × 429${outcome.note ? `, ${outcome.note}` : ''}`);
    }
  }
  return rows;
}

const medianOf = (row: Row, pick: (outcome: Outcome) => number): number => median(row.runs.map(pick));
const runsOf = (row: Row, pick: (outcome: Outcome) => number, digits = 2): string => row.runs.map((outcome) => fmt(pick(outcome), digits)).join(', ');
const total = (row: Row, pick: (outcome: Outcome) => number): number => row.runs.reduce((sum, outcome) => sum + pick(outcome), 0);

// ---------------------------------------------------------------------------------------------
// 1. bulk write

const BULK_N = 10_000;

async function bulkWrite(base: string): Promise<string> {
  const model = compressed('standard');
  const requests = Math.ceil(BULK_N / 50);
  const batchSeconds = (50 * model.cost.writeMs) / 1000;
  const lastSendAt = Math.max(0, (requests - model.burst) / model.drainPerSecond);
  const bucketSeconds = lastSendAt + batchSeconds;
  const operatingCommands = model.operatingLimitSeconds / (model.cost.writeMs / 1000);
  const operatingBinds = operatingCommands < BULK_N;
  // with the operating budget binding, the rest waits for the window: not modelled here (see the report)
  const minSeconds = bucketSeconds;
  const maxRate = BULK_N / minSeconds;
  const commands = Array.from({ length: BULK_N }, (_, index) => ['crm.deal.add', { fields: { TITLE: `Bulk ${index + 1}`, OPPORTUNITY: index + 1 } }] as [string, Record<string, unknown>]);
  // L as the client sees it: the batch's server time plus HTTP/JSON of 50 adds (~40 ms measured here)
  const observedLatency = batchSeconds + 0.04;
  const needed = Math.ceil(model.drainPerSecond * observedLatency);
  const inFlight = 2 * needed;

  const warmUpCommands = commands.slice(0, 1000);
  const b24kitOnce = (batchConcurrency?: number, work = commands) => async (): Promise<Outcome> => {
    const installed = await freshPortal(base, model);
    let limiterWaits = 0;
    const onEvent = (event: B24ClientEvent): void => {
      if (event.type === 'limiter-wait') limiterWaits += 1;
    };
    const client = b24kitClient(installed, model, { onEvent, ...(batchConcurrency === undefined ? {} : { batchConcurrency }) });
    const started = performance.now();
    const result = await client.batch(work);
    const seconds = (performance.now() - started) / 1000;
    await client.close();
    const outcome = await outcomeOf(base, installed, seconds, `${Object.keys(result.result).length} results, ${Object.keys(result.errors).length} errors, ${limiterWaits} limiter waits`);
    return { ...outcome, limiterWaits };
  };
  const sdkOnce = (work = commands) => async (): Promise<Outcome> => {
    const installed = await freshPortal(base, model);
    const b24 = sdkClient(installed, model);
    const started = performance.now();
    const result = await b24.actions.v2.batchByChunk.make({ calls: work, options: { isHaltOnError: false } });
    const seconds = (performance.now() - started) / 1000;
    return outcomeOf(base, installed, seconds, `${(result.getData() ?? []).length} results, ${result.getErrorMessages().length} errors`);
  };
  const outcomeOf = async (baseUrl: string, installed: Installed, seconds: number, note: string): Promise<Outcome> => {
    const stats = await portalStats(baseUrl, installed.member_id);
    return { seconds, requests: stats.requests, ...refusals(stats), done: stats.byMethod['crm.deal.add'] ?? 0, commands: stats.commands, note };
  };

  console.log('bulk write …');
  const rows = await rounds([
    { label: 'b24kit `client.batch()`, default options (batchConcurrency 16)', once: b24kitOnce(), warmUp: b24kitOnce(undefined, warmUpCommands) },
    { label: `b24kit \`client.batch()\`, batchConcurrency ${inFlight}`, once: b24kitOnce(inFlight) },
    { label: 'b24jssdk `actions.v2.batchByChunk` (= callBatchByChunk), its limiter on', once: sdkOnce(), warmUp: sdkOnce(warmUpCommands) },
  ]);
  const ratio = (outcome: Outcome): number => (outcome.done / outcome.seconds) / maxRate;
  const [kitDefault, kitTuned, sdk] = rows as [Row, Row, Row];
  const kitRefusals = `${total(kitTuned, (o) => o.s503) + total(kitDefault, (o) => o.s503)} × 503, ${total(kitTuned, (o) => o.s429) + total(kitDefault, (o) => o.s429)} × 429`;
  const lines = [
    `### 1. Bulk write: ${int(BULK_N)} \`crm.deal.add\``,
    '',
    `**bulk write ${int(BULK_N)} adds: ${fmt(medianOf(kitTuned, ratio))} of the request limit with batchConcurrency ${inFlight}, ` +
      `${fmt(medianOf(kitDefault, ratio))} with the default options (b24jssdk: ${fmt(medianOf(sdk, ratio))}), ${kitRefusals}** ` +
      `(b24kit, all runs; b24jssdk: ${total(sdk, (o) => o.s503)} × 503, ${total(sdk, (o) => o.s429)} × 429). Goal ≥ 0.95: ` +
      `${verdict(medianOf(kitTuned, ratio), 0.95, true)} with batchConcurrency ${inFlight}, ${verdict(medianOf(kitDefault, ratio), 0.95, true)} with the default options.`,
    '',
    `Model: the Standard plan compressed ${SCALE}× in time — ${describeModel(model)}. A fresh portal per run.`,
    '',
    `The limit: ${int(requests)} batch requests of 50. Bucket: the last request may leave at (${requests} − ${model.burst}) / ${model.drainPerSecond} = ` +
      `${fmt(lastSendAt)} s and still takes its server time, 50 × ${model.cost.writeMs} ms = ${fmt(batchSeconds)} s → at best ${fmt(minSeconds)} s, ` +
      `**${int(maxRate)} commands/s**. Operating: ${int(BULK_N)} × ${model.cost.writeMs} ms = ${fmt((BULK_N * model.cost.writeMs) / 1000, 0)} s of the ` +
      `${model.operatingLimitSeconds} s budget → it allows T / c = ${int(operatingCommands)} commands, ` +
      (operatingBinds ? '**fewer than the run needs: the operating budget binds**.' : `more than ${int(BULK_N)}: not binding. **Binding limit: the request bucket.**`),
    '',
    '| client | commands/s (median) | ratio to the limit | wall s (median) | requests | 503 | 429 | deals created (fewest in a run) | limiter waits (median) | runs: wall s | runs: ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${int(medianOf(row, (o) => o.done / o.seconds))} | **${fmt(medianOf(row, ratio))}** | ${fmt(medianOf(row, (o) => o.seconds))} | ` +
        `${int(medianOf(row, (o) => o.requests))} | ${total(row, (o) => o.s503)} | ${total(row, (o) => o.s429)} | ${int(Math.min(...row.runs.map((o) => o.done)))} | ` +
        `${row.runs[0]?.limiterWaits === undefined ? '—' : int(medianOf(row, (o) => o.limiterWaits ?? 0))} | ${runsOf(row, (o) => o.seconds)} | ${runsOf(row, ratio)} |`,
    ),
    '',
    `Goal: ≥ 0.95 with zero 503/429. "requests" and the 503/429 counts are the portal's (emulator stats); 503/429 summed over all runs. ` +
      `"deals created": \`crm.deal.add\` commands the portal ran. A client needs ceil(D · L) = ceil(${model.drainPerSecond} × ${fmt(observedLatency)} s) = ${needed} batches in flight ` +
      `once the burst is spent (L = ${fmt(batchSeconds)} s server time + ~0.04 s of HTTP/JSON per batch of 50 adds), and more to spend the burst early. The default ` +
      `batchConcurrency (16) keeps more in flight than that and the limiter paces them ("limiter waits": requests it held back); the second row sets ` +
      `batchConcurrency = 2 × ceil(D · L) = ${inFlight}. The limiter keeps ceil(D × 250 ms) slots of the burst free for latency jitter ` +
      `(${Math.max(1, Math.ceil(model.drainPerSecond * 0.25))} at this compressed drain, 1 at the real 2/s), which the theoretical maximum above does not subtract. ` +
      `b24jssdk's batchByChunk awaits one batch after another, so it reaches at most 50 / L commands/s.`,
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// 2. export

const EXPORT_N = 100_000;
const EXPORT_SELECT = ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CURRENCY_ID', 'DATE_CREATE'];

async function exportDeals(base: string): Promise<string> {
  const model = compressed('enterprise');
  const minimum = Math.ceil(EXPORT_N / 2500);
  const seeded = async (count: number): Promise<Installed> => {
    const installed = await freshPortal(base, model);
    await control(base, `/portals/${installed.member_id}/crm/seed`, { entity: 'deal', count });
    return installed;
  };
  const outcomeOf = async (installed: Installed, seconds: number, ids: Set<string>, count: number): Promise<Outcome> => {
    const stats = await portalStats(base, installed.member_id);
    if (ids.size !== count) throw new Error(`export read ${ids.size} distinct deals, not ${count}`);
    return { seconds, requests: stats.requests, ...refusals(stats), done: ids.size, commands: stats.commands, note: `${stats.byMethod['crm.deal.list'] ?? 0} list calls` };
  };
  const b24kitOnce = (count = EXPORT_N) => async (): Promise<Outcome> => {
    const installed = await seeded(count);
    const client = b24kitClient(installed, model);
    const started = performance.now();
    const rows = await client.listAll<{ ID: string }>('crm.deal.list', { select: EXPORT_SELECT });
    const seconds = (performance.now() - started) / 1000;
    await client.close();
    return outcomeOf(installed, seconds, new Set(rows.map((row) => row.ID)), count);
  };
  const sdkOnce = (count = EXPORT_N) => async (): Promise<Outcome> => {
    const installed = await seeded(count);
    const b24 = sdkClient(installed, model);
    const ids = new Set<string>();
    const started = performance.now();
    for await (const chunk of b24.actions.v2.fetchList.make<{ ID: string }>({ method: 'crm.deal.list', params: { select: EXPORT_SELECT }, idKey: 'ID' })) {
      for (const row of chunk) ids.add(row.ID);
    }
    const seconds = (performance.now() - started) / 1000;
    return outcomeOf(installed, seconds, ids, count);
  };

  console.log('export …');
  const rows = await rounds([
    { label: "b24kit `client.listAll('crm.deal.list')`, default options", once: b24kitOnce(), warmUp: b24kitOnce(10_000) },
    { label: 'b24jssdk `actions.v2.fetchList` (= fetchListMethod), its limiter on', once: sdkOnce(), warmUp: sdkOnce(5_000) },
  ]);
  const [kit, sdk] = rows as [Row, Row];
  const kitSeconds = medianOf(kit, (o) => o.seconds);
  const sdkSeconds = medianOf(sdk, (o) => o.seconds);
  const sdkBucketSeconds = Math.max(0, (medianOf(sdk, (o) => o.requests) - model.burst) / model.drainPerSecond);
  const lines = [
    `### 2. Export: ${int(EXPORT_N)} deals`,
    '',
    `**export ${int(EXPORT_N)} deals: ${fmt(medianOf(kit, (o) => o.requests) / minimum)} of the minimum requests (${int(medianOf(kit, (o) => o.requests))} for ${minimum}; ` +
      `b24jssdk: ${fmt(medianOf(sdk, (o) => o.requests) / minimum)}), ${fmt(kitSeconds)} s against b24jssdk's ${fmt(sdkSeconds)} s (${fmt(sdkSeconds / kitSeconds, 1)}× faster), ` +
      `${total(kit, (o) => o.s503)} × 503, ${total(kit, (o) => o.s429)} × 429** (b24kit, all runs; b24jssdk: ${total(sdk, (o) => o.s503)} × 503, ${total(sdk, (o) => o.s429)} × 429). ` +
      `Goal ≤ 1.05: ${verdict(medianOf(kit, (o) => o.requests) / minimum, 1.05, false)}.`,
    '',
    `Model: the Enterprise plan compressed ${SCALE}× in time — ${describeModel(model)}. A fresh portal per run, ${int(EXPORT_N)} deals seeded through the control API, ` +
      `\`select\` ${EXPORT_SELECT.join(', ')}. (Enterprise, not Standard: b24jssdk's ${int(EXPORT_N / 50)} requests would need ≥ ${fmt((EXPORT_N / 50 - 50) / (2 * SCALE), 0)} s per run ` +
      `at the compressed Standard drain; at the real Standard drain, 2/s, they need ≥ ${int((EXPORT_N / 50 - 50) / 2)} s, b24kit's ${minimum} fit in the burst.)`,
    '',
    `The minimum: ceil(${int(EXPORT_N)} / 2500) = **${minimum} requests** (50 list calls of 50 rows chained in one batch, \`start=-1\`, ID cursor).`,
    '',
    '| client | requests (median) | ÷ minimum | wall s (median) | 503 | 429 | runs: requests | runs: wall s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${int(medianOf(row, (o) => o.requests))} | **${fmt(medianOf(row, (o) => o.requests) / minimum)}** | ${fmt(medianOf(row, (o) => o.seconds))} | ` +
        `${total(row, (o) => o.s503)} | ${total(row, (o) => o.s429)} | ${runsOf(row, (o) => o.requests, 0)} | ${runsOf(row, (o) => o.seconds)} |`,
    ),
    '',
    `Goal: ≤ 1.05 of the minimum. Every run read all ${int(EXPORT_N)} distinct deals. b24kit: the first request carries the first page and the tail ` +
      `(the 50 largest IDs), then chains bounded by their range's last ID and sized by the density seen, packed 50 pages a request (docs/rest.md). ` +
      `The portal ran ${int(medianOf(kit, (o) => o.commands))} list calls for b24kit (${int(EXPORT_N / 50)} needed). ` +
      `b24jssdk's fetchList is the ID-cursor algorithm of the docs ("huge data") without batching: one request per 50 rows, one at a time; its bucket floor ` +
      `here is (requests − ${model.burst}) / ${model.drainPerSecond} = ${fmt(sdkBucketSeconds)} s. Its 503s: its token bucket has no headroom for requests ` +
      `that arrive bunched, and it retries them. \`callListMethod\` (offsets, a COUNT on every page) was not run: its ` +
      `docs limit it to small selections (< 1000 items), and it would make the same number of requests, each paying the COUNT.`,
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// 3. shared budget

const PROCESSES = 4;
const CALLS_PER_PROCESS = 50;
const CONCURRENCY_PER_PROCESS = 8;

async function sharedBudget(base: string): Promise<string> {
  const model = compressed('standard');
  const totalCalls = PROCESSES * CALLS_PER_PROCESS;
  const readSeconds = model.cost.readMs / 1000;
  const minSecondsFor = (requests: number): number => Math.max(0, (requests - model.burst) / model.drainPerSecond) + readSeconds;
  const worker = fileURLToPath(new URL('./rest/hammer-worker.ts', import.meta.url));
  const directory = mkdtempSync(path.join(tmpdir(), 'b24kit-bench-rest-'));
  // warm runs reuse their processes (an app's processes live long); cold runs start new ones
  const pools: Partial<Record<HammerJob['client'], ChildProcess[]>> = {};
  const spawn = (): ChildProcess[] =>
    Array.from({ length: PROCESSES }, () => fork(worker, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const stopAll = (children: ChildProcess[]): Promise<unknown> =>
    Promise.all(
      children.map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => {
              child.once('exit', resolve);
              child.disconnect();
            })
          : undefined,
      ),
    );

  const once = (client: HammerJob['client'], warm = true) => async (): Promise<Outcome> => {
    const warmUpCalls = warm ? WARM_UP_CALLS : 0;
    const installed = await freshPortal(base, model);
    const seed = await control<{ firstId: number; lastId: number }>(base, `/portals/${installed.member_id}/crm/seed`, { entity: 'deal', count: 100 });
    const ids = Array.from({ length: seed.lastId - seed.firstId + 1 }, (_, index) => seed.firstId + index);
    const storePath = path.join(directory, `buckets-${installed.member_id}.sqlite`);
    if (client === 'b24kit') await (await openStore({ url: storePath })).close(); // migrate once, before the processes open it
    const job: HammerJob = { client, installed, model, calls: CALLS_PER_PROCESS, concurrency: CONCURRENCY_PER_PROCESS, ids, storePath, warmUpCalls };
    const children = warm ? (pools[client] ??= spawn()) : spawn();
    const next = (child: ChildProcess, what: string): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`a ${client} process exited with ${code} ${what}`));
        child.once('exit', onExit);
        child.once('message', (message) => {
          child.off('exit', onExit);
          resolve(message);
        });
      });
    const ready = children.map((child) => next(child, 'before it was ready'));
    for (const child of children) child.send({ type: 'job', job });
    await Promise.all(ready);
    // the warm-up calls drain from the bucket before the start (b24kit's store knows; b24jssdk's limiters refill)
    if (warmUpCalls) await new Promise((resolve) => setTimeout(resolve, Math.ceil(((PROCESSES * warmUpCalls) / model.drainPerSecond) * 1000) + 1000));
    await control(base, `/portals/${installed.member_id}/stats/reset`, {});
    const results = children.map((child) => next(child, 'during its run') as Promise<HammerResult>);
    for (const child of children) child.send({ type: 'go' });
    const done = await Promise.all(results);
    if (!warm) await stopAll(children);
    const seconds = (Math.max(...done.map((result) => result.endMs)) - Math.min(...done.map((result) => result.startMs))) / 1000;
    const stats = await portalStats(base, installed.member_id);
    const failed = done.reduce((sum, result) => sum + result.failed, 0);
    const errors: Record<string, number> = {};
    for (const result of done) for (const [code, count] of Object.entries(result.errors)) errors[code] = (errors[code] ?? 0) + count;
    const note = failed ? `${failed} calls failed (${Object.entries(errors).map(([code, count]) => `${count} × ${code}`).join(', ')})` : undefined;
    return { seconds, requests: stats.requests, ...refusals(stats), done: stats.byStatus['200'] ?? 0, commands: stats.commands, ...(note ? { note } : {}) };
  };

  console.log('shared budget …');
  let rows: Row[];
  try {
    rows = await rounds([
      { label: `b24kit, ${PROCESSES} warm processes, one store-backed limiter (SQLite file)`, once: once('b24kit') },
      { label: `b24jssdk, ${PROCESSES} warm processes, each its own in-memory limiter`, once: once('b24jssdk') },
      { label: `b24kit, ${PROCESSES} cold processes (no warm-up call), one store-backed limiter`, once: once('b24kit', false) },
    ]);
  } finally {
    await Promise.all(Object.values(pools).map((children) => stopAll(children)));
    rmSync(directory, { recursive: true, force: true });
  }
  const ratio = (outcome: Outcome): number => minSecondsFor(outcome.done) / outcome.seconds;
  const [kit, sdk, kitCold] = rows as [Row, Row, Row];
  const failedRuns = (row: Row): string => row.runs.map((outcome) => outcome.note ?? '').filter(Boolean).join('; ') || '—';
  const lines = [
    `### 3. Shared budget: ${PROCESSES} processes, one portal`,
    '',
    `**shared budget, ${PROCESSES} processes × ${CALLS_PER_PROCESS} calls: ${fmt(medianOf(kit, ratio))} of the request limit (b24jssdk: ${fmt(medianOf(sdk, ratio))}), ` +
      `${total(kit, (o) => o.s503)} × 503, ${total(kit, (o) => o.s429)} × 429** (b24kit, warm processes, all runs; b24jssdk: ${total(sdk, (o) => o.s503)} × 503, ` +
      `${total(sdk, (o) => o.s429)} × 429). Goal zero 503 and ≥ 0.95: ${total(kit, (o) => o.s503) === 0 && Number(fmt(medianOf(kit, ratio))) >= 0.95 ? 'goal met' : '**goal missed**'} ` +
      `with warm processes; ${total(kitCold, (o) => o.s503) === 0 && Number(fmt(medianOf(kitCold, ratio))) >= 0.95 ? 'goal met' : '**goal missed**'} with cold ones ` +
      `(${fmt(medianOf(kitCold, ratio))}, ${total(kitCold, (o) => o.s503)} × 503; see below).`,
    '',
    `Model: the Standard plan compressed ${SCALE}× in time — ${describeModel(model)}. A refused request still fills the bucket (the emulator's default, ` +
      `\`countRefusedRequests\`). A fresh portal per run with 100 seeded deals.`,
    '',
    `Workload: ${PROCESSES} child processes (node + tsx) each send ${CALLS_PER_PROCESS} single \`crm.deal.get\` calls, ${CONCURRENCY_PER_PROCESS} at a time, ` +
      `as fast as their client allows: ${totalCalls} requests. The clock starts when all are ready. *Warm* processes have made ${WARM_UP_CALLS} calls each first ` +
      `(connections open, code compiled — an app's long-running processes); the bucket then drains and the portal's stats are reset before the start. *Cold* ` +
      `processes start with their first call. b24kit: each process opens the same SQLite file and builds \`createStoreRateLimiter({store, planAware: false, ` +
      `defaultLimits})\` (src/rest/store-bucket.ts, the shared store-backed \`BucketStateStore\`: every slot is one \`BEGIN IMMEDIATE\` transaction on ` +
      `\`b24kit_rest_buckets\`). b24jssdk: a \`B24OAuth\` per process, its default limiter set to the portal's bucket — it has no shared mode, so each process ` +
      `believes it owns the whole burst.`,
    '',
    `The limit: ${totalCalls} requests need at least (${totalCalls} − ${model.burst}) / ${model.drainPerSecond} + ${fmt(readSeconds, 3)} = ${fmt(minSecondsFor(totalCalls))} s. ` +
      `Ratio = that minimum for the requests the portal answered with 200 ÷ the wall time from the first process's start to the last one's end ` +
      `(= answered requests/s ÷ the most the bucket allows for them). **Binding limit: the request bucket** (reads of 2 ms: the operating budget is far away).`,
    '',
    '| client | 200s/s (median) | ratio to the limit | wall s (median) | requests sent | 503 | 429 | runs: wall s | runs: ratio | failed calls |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${fmt(medianOf(row, (o) => o.done / o.seconds), 1)} | **${fmt(medianOf(row, ratio))}** | ${fmt(medianOf(row, (o) => o.seconds))} | ` +
        `${int(medianOf(row, (o) => o.requests))} | ${total(row, (o) => o.s503)} | ${total(row, (o) => o.s429)} | ${runsOf(row, (o) => o.seconds)} | ${runsOf(row, ratio)} | ${failedRuns(row)} |`,
    ),
    '',
    `Goal: zero 503, combined rate ≥ 0.95 of the limit. "requests sent" counts refused ones too; 503/429 summed over all runs. ` +
      `b24jssdk: 4 × ${model.burst} requests leave at once, the portal refuses the excess, the refused ones keep the bucket full, and after 3 attempts ` +
      `(its \`maxRetries\`) a call fails with QUERY_LIMIT_EXCEEDED.`,
    '',
    `Cold processes (${fmt(medianOf(kitCold, ratio))}, ${total(kitCold, (o) => o.s503)} × 503 over ${RUNS} runs): with four client processes starting at once next to the ` +
      `emulator on 2 cores, some requests of the first second took 100–450 ms (a traced run) while later ones arrived on time. The limiter keeps ` +
      `ceil(D × 250 ms) slots of headroom (${Math.max(1, Math.ceil(model.drainPerSecond * 0.25))} here, 1 at the real drain) to absorb such bunching (an earlier version kept one slot, ` +
      `50 ms at this drain, and saw up to 4 × 503 per cold run). A 503 costs more than its own slot: every caller already holding a future slot takes a fresh one after the ` +
      `resync and the stale slots stay counted (src/rest/client.ts, "the stale one stays counted: safe side").`,
  ];
  return lines.join('\n');
}

export async function run(): Promise<BenchSection> {
  const emulator = await startEmulatorProcess();
  const sections: string[] = [];
  // BENCH_REST_ONLY=1,3 runs a subset while developing; the report needs all three
  const only = (process.env.BENCH_REST_ONLY ?? '1,2,3').split(',');
  try {
    if (only.includes('1')) sections.push(await bulkWrite(emulator.url));
    if (only.includes('2')) sections.push(await exportDeals(emulator.url));
    if (only.includes('3')) sections.push(await sharedBudget(emulator.url));
  } finally {
    await emulator.stop();
  }
  const header = [
    `b24kit's REST client (src/rest/) against the portal's physical limits, side by side with \`@bitrix24/b24jssdk\` 2.2.0 (\`B24OAuth\`, its own limiter on), ` +
      `same emulator settings, alternating, ${RUNS} runs each after one unmeasured warm-up run of a small workload each, medians. The emulator runs in its own process; every count is from its stats ` +
      `(\`GET /_emulator/portals/:id/stats\`), not from the clients. Ratios are "the portal's theoretical best ÷ what the client achieved" for the same work ` +
      `(the limits: docs/protocol.md §5.1, §5.2).`,
    '',
    `Time scale: the emulator is a real portal compressed ${SCALE}× in time (drain × ${SCALE}, every server cost and the operating budget ÷ ${SCALE}, the ` +
      `operating window 60 s, its minimum) so that a run takes seconds; the ratios are the uncompressed portal's, up to the fixed ~2–4 ms of HTTP/JSON per ` +
      `request that does not shrink. \`BENCH_REST_SCALE=1\` runs the real model (the emulator's REALISTIC_COST: 30 ms/write, 20 ms/read, 0.1 ms/row, 1 s per million rows counted); ` +
      `b24jssdk's sequential bulk write then takes ~5 min per run. b24jssdk's limiter is given the same (compressed) bucket and operating budget as b24kit's — ` +
      `what its docs do for Enterprise with \`setRestrictionManagerParams\`.`,
  ];
  return { title: 'REST client (b24kit vs b24jssdk)', markdown: [...header, '', ...sections.flatMap((section) => [section, ''])].join('\n') };
}
