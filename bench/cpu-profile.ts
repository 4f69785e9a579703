/**
 * Where an ingest target's CPU time goes: V8's sampling profiler (node:inspector, the profiler of
 * `node --cpu-prof`) around a load run, and the self time summed by the step of one event's path
 * it belongs to. Native frames (better-sqlite3's statements, socket writes, hashing) are charged to
 * the module that called them, so "SQLite" includes the time inside SQLite itself.
 */
import { Session } from 'node:inspector/promises';

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/** Profiles `work` at a 200 µs sampling interval. */
export async function profile<T>(work: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const result = await work();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

/** `src/events/inbox.ts`, `node_modules/qs`, `node:_http_server`: where a frame's code lives. */
export function moduleOf(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.search(/\/(src|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

/** The step of an event's path a module's time belongs to. */
export function stepOf(module: string): string {
  if (module === '(garbage collector)') return 'garbage collection';
  if (module === '(program)') return 'V8 and libuv outside JS ((program))';
  if (/node_modules\/qs|server\/body-parsers/.test(module)) return 'form parsing (qs)';
  if (/better-sqlite3|store\/sqlite|node:internal\/fs/.test(module)) return 'SQLite: statements, commit (in SQLite and its binding)';
  if (/node_modules\/pg|store\/postgres/.test(module)) return 'PostgreSQL client (pg, its protocol, socket writes)';
  if (/events\/dedupe-key/.test(module)) return 'dedupe key (canonical JSON, sha256)';
  if (/events\/auth-cache|store\/portals|store\/crypto|oauth\/install-payload|validators/.test(module)) return 'portal lookup and token check';
  if (/events\/(receiver|event-payload)|routes\/webhooks/.test(module)) return 'receiver: payload, checks';
  if (/events\/inbox|src\/queue|store\/sql\.ts/.test(module)) return 'inbox and job rows (building the statements)';
  if (/async_hooks/.test(module)) return 'AsyncLocalStorage (promise hooks)';
  if (/pino|src\/log|server\/logging/.test(module)) return 'logging';
  if (/fastify|find-my-way|avvio|light-my-request|^node:|server\/app/.test(module)) return 'HTTP: Node and Fastify (sockets, parser, routing, replies)';
  return `other (${module})`;
}

export interface ProfileSummary {
  /** Profiled wall time and the idle share of it (shares below leave out idle time, the profiler's and the harness's). */
  seconds: number;
  idleShare: number;
  /** [step, share of busy time], largest first. */
  steps: Array<[string, number]>;
  /** [function @ module, share of busy time], largest first. */
  functions: Array<[string, number]>;
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  let total = 0;
  let idle = 0;
  // the profiler's own work (serialising the profile in Profiler.stop) and the bench's spawning of the load process
  let harness = 0;
  const steps = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    let module = frame.functionName.startsWith('(') && frame.url === '' ? frame.functionName : moduleOf(frame.url);
    // a native frame (or node's hashing) is charged to the code that called it
    let up: number | undefined = id;
    while (up !== undefined && (module === '(native)' || module.startsWith('node:internal/crypto'))) {
      up = parent.get(up);
      const caller = up === undefined ? undefined : byId.get(up)!.callFrame;
      if (caller && caller.url !== '') module = moduleOf(caller.url);
      else if (!caller) module = '(native)';
    }
    if (/node:inspector|child_process/.test(module)) {
      harness += us;
      continue;
    }
    steps.set(stepOf(module), (steps.get(stepOf(module)) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} @ ${module}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busy = total - idle - harness;
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => [name, us / busy] as [string, number]);
  return { seconds: total / 1e6, idleShare: idle / total, steps: sorted(steps), functions: sorted(functions) };
}
