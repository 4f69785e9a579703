/**
 * Reading a list method (docs/protocol.md §5.4): runs the plans of list.ts — an ID cursor with 50 pages
 * chained per batch and, for long lists, several ID ranges in parallel; or `start` offsets, 50
 * pages per batch. Requests go through the client's `call` and batch request, so every one of
 * them passes the exchange loop's limits and retry policy.
 */
import { B24Error } from '../errors.js';
import type { TokenProvider } from './token-provider.js';
import { portalKey } from './providers.js';
import { errorFromEnvelope } from './error-mapping.js';
import { classifyError } from './error-class.js';
import { MAX_BATCH_COMMANDS, chunkCommands, type NormalizedCommand, type ParsedBatch } from './batch.js';
import {
  PAGE_SIZE,
  chainCommands,
  hasBatchReference,
  offsetCommands,
  packRequest,
  pageRows,
  planList,
  planningDensity,
  readChain,
  rowId,
  tailCommand,
  type ChainPlan,
  type IdCursorPlan,
  type IdRange,
  type ListOptions,
  type ListPlan,
  type OffsetPlan,
} from './list.js';
import type { ExchangeOptions } from './exchange.js';

/**
 * What a list is read through: the client's requests and its operating budget. `O` is the
 * client's call options, passed through to every request unchanged.
 */
export interface ListIo<O extends ExchangeOptions = ExchangeOptions> {
  provider: TokenProvider;
  /** Attempts in all for a chain refused with OPERATION_TIME_LIMIT (the client's `retry.maxAttempts`). */
  maxAttempts: number;
  /** One method call (the first page of an offset list). */
  call(method: string, params: Record<string, unknown>, options: O): Promise<{ result: unknown; total?: number; next?: number }>;
  /** One batch request of ≤ 50 commands. */
  batchRequest(commands: NormalizedCommand[], halt: boolean, options: O): Promise<ParsedBatch>;
  /** Holds `method` of this portal until its operating budget frees up, after a 429 with no reset time. */
  blockMethod(key: string, method: string): void;
}

/**
 * The rows of a list method, in order. Stopping the loop early cancels what is in flight.
 */
export async function* readList<T, O extends ExchangeOptions>(io: ListIo<O>, method: string, params: Record<string, unknown>, options: O & ListOptions): AsyncGenerator<T, void, undefined> {
  const plan = planList(method, params, options);
  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
  const callOptions: O = { ...options, signal };
  try {
    // a caller's value the portal would rewrite inside a batch ($result[…]) is read with single calls
    const literal = hasBatchReference(params);
    const pages = literal
      ? singleCallPages(io, method, plan, callOptions)
      : plan.kind === 'id-cursor'
        ? idCursorPages(io, method, plan, options, callOptions)
        : offsetPages(io, method, plan, callOptions);
    for await (const page of pages) for (const row of page) yield row as T;
  } finally {
    internal.abort(new B24Error('B24_ERR_INVALID_ARGUMENT', 'list iteration stopped by the caller', { method }));
  }
}

async function* idCursorPages<O extends ExchangeOptions>(io: ListIo<O>, method: string, plan: IdCursorPlan, options: ListOptions, callOptions: O): AsyncGenerator<Record<string, unknown>[]> {
  const perRequest = Math.max(1, Math.min(MAX_BATCH_COMMANDS, Math.floor(options.pagesPerRequest ?? MAX_BATCH_COMMANDS)));
  if (perRequest === 1) {
    // one page per request, nothing read ahead: the cheapest way to look at the first rows
    let afterId = plan.afterId;
    for (;;) {
      const { chains } = await requestWithRetry(io, method, plan, [{ afterId, upToId: plan.upToId, pages: 1 }], false, callOptions);
      const chain = chains[0]!;
      yield* chain.pages;
      if (chain.done) return;
      afterId = chain.lastId;
    }
  }

  // 1. one page and the tail (the 50 largest IDs), in one request: a list of ≤ 100 rows ends here
  const first = await requestWithRetry(io, method, plan, [{ afterId: plan.afterId, upToId: plan.upToId, pages: 1 }], true, callOptions);
  const head = first.chains[0]!.pages[0] ?? [];
  const idField = plan.shape.idField;
  yield head;
  if (head.length < PAGE_SIZE) return;
  const headLast = rowId(head[head.length - 1], idField)!;
  const tailAscending = [...first.tail].reverse();
  const tail = tailAscending.filter((row) => (rowId(row, idField) ?? -Infinity) > headLast);
  if (first.tail.length < PAGE_SIZE || tail.length < tailAscending.length) {
    // the tail reaches into the first page: the selection holds ≤ 100 rows, all read
    if (tail.length > 0) yield tail;
    return;
  }
  const tailFirst = rowId(tail[0], idField)!;

  // 2. the middle, (headLast, tailFirst − 1]: chains sized by the density the head and tail show
  const headFirst = rowId(head[0], idField)!;
  const tailLast = rowId(tail[tail.length - 1], idField)!;
  yield* middlePages(io, method, plan, { afterId: headLast, upToId: tailFirst - 1 }, { rows: head.length + tail.length, span: headLast - headFirst + 1 + (tailLast - tailFirst + 1) }, options, perRequest, callOptions);
  yield tail;
}

/**
 * Reads (afterId, upToId] with up to `parallelCursors` requests in flight, each packed with up to
 * `perRequest` chained pages over ID ranges (packRequest), and yields the pages in ID order.
 * The first request goes alone and the number in flight doubles with each answer, so the density
 * that sizes the chains is learned before many pages are committed. Back-pressure: no request is
 * sent while the pages read ahead (buffered or in flight) would pass `maxBufferedPages`, except
 * the one the caller is waiting for.
 */
async function* middlePages<O extends ExchangeOptions>(
  io: ListIo<O>,
  method: string,
  plan: IdCursorPlan,
  middle: { afterId: number; upToId: number },
  seen: { rows: number; span: number },
  options: ListOptions,
  perRequest: number,
  callOptions: O,
): AsyncGenerator<Record<string, unknown>[]> {
  if (middle.upToId <= middle.afterId) return;
  const parallel = Math.max(1, Math.floor(options.parallelCursors ?? 4));
  const maxBuffered = Math.max(perRequest, Math.floor(options.maxBufferedPages ?? 2 * parallel * perRequest));
  const queue: IdRange[] = [{ ...middle, density: planningDensity(seen.rows, seen.span) }];
  /** Pages read, keyed by the ID their range starts after, waiting for the caller. */
  const pieces = new Map<number, { end: number; pages: Record<string, unknown>[][] }>();
  const attempts = new Map<number, number>();
  let emittedTo = middle.afterId;
  let inFlight = 0;
  let inFlightPages = 0;
  let bufferedPages = 0;
  let answered = 0;
  const state: { failure: { error: unknown } | undefined } = { failure: undefined };
  const throwIfFailed = (): void => {
    if (state.failure) throw state.failure.error;
  };
  let wake: (() => void) | undefined;
  // stopping early (or a failure) cancels the requests in flight
  const local = new AbortController();
  const signal = callOptions.signal ? AbortSignal.any([callOptions.signal, local.signal]) : local.signal;
  const requestOptions: O = { ...callOptions, signal };
  const running = new Set<Promise<void>>();

  const requeue = (range: IdRange): void => {
    const index = queue.findIndex((queued) => queued.afterId > range.afterId);
    queue.splice(index === -1 ? queue.length : index, 0, range);
  };
  const launch = (chains: ChainPlan[]): void => {
    const pages = chains.reduce((sum, chain) => sum + chain.pages, 0);
    inFlight += 1;
    inFlightPages += pages;
    const request = runChains(io, method, plan, chains.map((chain) => ({ afterId: chain.range.afterId, upToId: chain.range.upToId, pages: chain.pages })), false, requestOptions)
      .then(
        async ({ chains: outcomes }) => {
          for (const [index, outcome] of outcomes.entries()) {
            const { range } = chains[index]!;
            const end = outcome.done || outcome.lastId >= range.upToId ? range.upToId : outcome.lastId;
            if (outcome.error) {
              const tries = (attempts.get(range.afterId) ?? 1) + 1;
              if (!waitsForMethodBudget(outcome.error, method) || tries > io.maxAttempts) throw outcome.error;
              // the method waits for its budget, whether the chain broke before its first page or after some
              io.blockMethod(portalKey(await io.provider.getGrant()), method);
              if (end === range.afterId) {
                // refused before any page: the range again
                attempts.set(range.afterId, tries);
                requeue(range);
                continue;
              }
            }
            const rows = outcome.pages.reduce((sum, page) => sum + page.length, 0);
            seen.rows += rows;
            seen.span += end - range.afterId;
            pieces.set(range.afterId, { end, pages: outcome.pages });
            bufferedPages += outcome.pages.length;
            // the chain was sized too short: its rest, at the density this chain measured
            if (end < range.upToId) requeue({ afterId: end, upToId: range.upToId, density: planningDensity(rows, end - range.afterId), measured: true });
          }
        },
      )
      .catch((error: unknown) => {
        state.failure ??= { error };
      })
      .finally(() => {
        inFlight -= 1;
        inFlightPages -= pages;
        answered += 1;
        running.delete(request);
        const resume = wake;
        wake = undefined;
        resume?.();
      });
    running.add(request);
  };

  try {
    for (;;) {
      throwIfFailed();
      // send what the limits allow
      while (queue.length > 0) {
        const allowed = Math.min(parallel, 2 ** answered);
        if (inFlight >= allowed) break;
        const waitedFor = queue[0]!.afterId === emittedTo;
        if (!waitedFor && bufferedPages + inFlightPages + perRequest > maxBuffered) break;
        const density = planningDensity(seen.rows, seen.span);
        for (const range of queue) if (!range.measured) range.density = density;
        launch(packRequest(queue, perRequest));
      }
      // hand over what is contiguous
      let piece = pieces.get(emittedTo);
      while (piece) {
        pieces.delete(emittedTo);
        bufferedPages -= piece.pages.length;
        emittedTo = piece.end;
        for (const page of piece.pages) yield page;
        piece = pieces.get(emittedTo);
      }
      throwIfFailed();
      if (emittedTo >= middle.upToId) return;
      if (inFlight === 0) {
        if (queue.length === 0) throw new B24Error('B24_ERR_BAD_RESPONSE', `${method}: the list reader lost track of the ID range after ${emittedTo}`, { method });
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    local.abort(new B24Error('B24_ERR_INVALID_ARGUMENT', 'list iteration stopped', { method }));
    await Promise.allSettled([...running]);
  }
}

interface ChainRead {
  pages: Record<string, unknown>[][];
  lastId: number;
  done: boolean;
  error: B24Error | undefined;
}

/**
 * One request: chains over ID ranges (`c{i}p{j}` keys, each page after the first filtered on the
 * previous page's 50th ID and bounded by the range's last ID), and with `withTail` the tail query.
 */
async function runChains<O extends ExchangeOptions>(
  io: ListIo<O>,
  method: string,
  plan: IdCursorPlan,
  chains: { afterId: number; upToId: number | undefined; pages: number }[],
  withTail: boolean,
  callOptions: O,
): Promise<{ chains: ChainRead[]; tail: Record<string, unknown>[]; tailError: B24Error | undefined }> {
  const sets = chains.map((chain, index) => chainCommands(method, plan, chain.afterId, chain.pages, chain.upToId, `c${index}p`));
  const commands = sets.flat();
  if (withTail) commands.push(tailCommand(method, plan, plan.afterId));
  const parsed = await io.batchRequest(commands, false, callOptions);
  let memberId: string | undefined;
  const toError = async (envelope: { error: string; error_description: string }): Promise<B24Error> => {
    memberId ??= (await io.provider.getGrant()).memberId;
    return errorFromEnvelope(envelope, 400, { method, memberId });
  };
  const reads: ChainRead[] = [];
  for (const [index, set] of sets.entries()) {
    const chain = readChain(parsed, set, plan, chains[index]!.afterId);
    reads.push({ pages: chain.pages, lastId: chain.lastId, done: chain.done, error: chain.error ? await toError(chain.error) : undefined });
  }
  const tailFailure = withTail ? parsed.errors.tail : undefined;
  return {
    chains: reads,
    tail: withTail && !tailFailure ? pageRows(parsed.result.tail, plan.shape.itemsKey) : [],
    tailError: tailFailure ? await toError(tailFailure) : undefined,
  };
}

/**
 * A request whose commands must all succeed: one refused with OPERATION_TIME_LIMIT before any
 * page arrived is sent again once the method's budget frees up (up to the client's attempts);
 * a chain that broke after some pages returns them, to be resumed from its last ID.
 */
async function requestWithRetry<O extends ExchangeOptions>(
  io: ListIo<O>,
  method: string,
  plan: IdCursorPlan,
  chains: { afterId: number; upToId: number | undefined; pages: number }[],
  withTail: boolean,
  callOptions: O,
): Promise<{ chains: ChainRead[]; tail: Record<string, unknown>[] }> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await runChains(io, method, plan, chains, withTail, callOptions);
    const error = answer.chains.find((chain) => chain.error && chain.pages.length === 0)?.error ?? answer.tailError;
    if (!error) return answer;
    if (!waitsForMethodBudget(error, method) || attempt >= io.maxAttempts) throw error;
    io.blockMethod(portalKey(await io.provider.getGrant()), method);
  }
}

/**
 * Whether a command refused inside a list batch is sent again after the method's operating budget
 * frees up: the exchange loop's own decision (error-class.ts), so that lists and single calls agree.
 * Other failures of a list command end the read (the caller sees the portal's error).
 */
function waitsForMethodBudget(error: unknown, method: string): boolean {
  const decision = classifyError(error, method);
  return decision.kind === 'wait' && decision.on === 'operating';
}

/**
 * One page per call, no batch: for params holding a value the portal would take for a batch
 * reference. The same list commands as the batched reader, one request each; the exchange loop
 * waits out the limits as for any call.
 */
async function* singleCallPages<O extends ExchangeOptions>(io: ListIo<O>, method: string, plan: ListPlan, callOptions: O): AsyncGenerator<Record<string, unknown>[]> {
  if (plan.kind === 'offset') {
    const startParam = Object.keys(plan.base).find((key) => key.toLowerCase() === 'start') ?? 'start';
    let answer = await io.call(method, plan.base, callOptions);
    for (let pages = 1; ; pages += 1) {
      yield pageRows(answer.result, plan.shape.itemsKey);
      const next = answer.next;
      if (next === undefined) return;
      // the portal's next moves by a page; one that does not would loop forever
      if (next < pages * PAGE_SIZE) throw new B24Error('B24_ERR_BAD_RESPONSE', `${method}: next ${next} does not move past page ${pages}`, { method });
      answer = await io.call(method, { ...plan.base, [startParam]: next }, callOptions);
    }
  }
  let afterId = plan.afterId;
  for (;;) {
    const [command] = chainCommands(method, plan, afterId, 1);
    const answer = await io.call(method, command!.params, callOptions);
    const rows = pageRows(answer.result, plan.shape.itemsKey);
    yield rows;
    if (rows.length < PAGE_SIZE) return;
    const lastId = rowId(rows[rows.length - 1], plan.shape.idField);
    if (lastId === undefined || lastId <= afterId) throw new B24Error('B24_ERR_BAD_RESPONSE', `${method}: rows are not in ascending ${plan.shape.idField} order`, { method });
    afterId = lastId;
  }
}

async function* offsetPages<O extends ExchangeOptions>(io: ListIo<O>, method: string, plan: OffsetPlan, callOptions: O): AsyncGenerator<Record<string, unknown>[]> {
  const first = await io.call(method, plan.base, callOptions);
  yield pageRows(first.result, plan.shape.itemsKey);
  if (first.next === undefined || first.total === undefined) return;
  const chunks = chunkCommands(offsetCommands(method, plan, first.next, first.total));
  for (const chunk of chunks) {
    // pages refused for the method's budget are asked for again after it frees up, like the ID
    // cursor's (up to the client's attempts); the chunk's pages are handed over in order
    const pages = new Map<string, Record<string, unknown>[]>();
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const parsed = await io.batchRequest(pending, false, callOptions);
      const refused: NormalizedCommand[] = [];
      for (const command of pending) {
        const failure = parsed.errors[command.key];
        if (!failure) {
          pages.set(command.key, pageRows(parsed.result[command.key], plan.shape.itemsKey));
          continue;
        }
        const error = errorFromEnvelope(failure, 400, { method, memberId: (await io.provider.getGrant()).memberId });
        if (!waitsForMethodBudget(error, method) || attempt >= io.maxAttempts) throw error;
        refused.push(command);
      }
      if (refused.length > 0) io.blockMethod(portalKey(await io.provider.getGrant()), method);
      pending = refused;
    }
    for (const command of chunk) yield pages.get(command.key)!;
  }
}
