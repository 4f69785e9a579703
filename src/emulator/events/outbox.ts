import { setTimeout as sleep } from 'node:timers/promises';
import { postForm, type DeliveryResult } from '../delivery.js';

/**
 * How the emulated queue server delivers to one portal's handlers. The real one sends each event
 * once and documents no ordering (docs/protocol.md §3.5); tests turn on duplicates and reordering here
 * (`PUT /_emulator/portals/:memberId/delivery`).
 */
export interface DeliverySettings {
  /** Share of events (0..1) delivered more than once. @defaultValue 0 */
  duplicateRate: number;
  /** How many times in total a duplicated event is delivered. @defaultValue 2 */
  duplicateCount: number;
  /** Deliver concurrently after a random wait in [0, reorderWindowMs], so events overtake each other. @defaultValue false */
  reorder: boolean;
  /** Width of the random wait when `reorder` is on, in ms. @defaultValue 100 */
  reorderWindowMs: number;
  /** Fixed wait before every delivery, in ms (queue lag). @defaultValue 0 */
  delayMs: number;
  /**
   * How long the queue waits for a handler's answer, in ms; null = the emulator's
   * `deliveryTimeoutMs`. The docs give no number (UNCONFIRMED). @defaultValue null
   */
  timeoutMs: number | null;
  /**
   * Slow handlers get throttled: "If the handler responds slowly, the server reduces the frequency
   * of calls. The intervals between requests increase" (apidocs events/index). The docs give no
   * numbers, so this is a switch. @defaultValue false
   */
  throttleSlowHandlers: boolean;
  /** An answer slower than this (or none: timeout, refused) marks the handler URL slow, in ms. @defaultValue 1000 */
  slowAnswerMs: number;
  /** Pause before the next delivery to a slow URL, doubled per further slow answer, in ms. @defaultValue 1000 */
  throttleBaseMs: number;
  /** Upper bound of that pause, in ms. @defaultValue 60000 */
  throttleMaxMs: number;
}

export const DEFAULT_DELIVERY: DeliverySettings = {
  duplicateRate: 0,
  duplicateCount: 2,
  reorder: false,
  reorderWindowMs: 100,
  delayMs: 0,
  timeoutMs: null,
  throttleSlowHandlers: false,
  slowAnswerMs: 1000,
  throttleBaseMs: 1000,
  throttleMaxMs: 60_000,
};

/**
 * The pause before the next delivery to a URL after `slowStreak` slow answers in a row: none
 * after a fast answer, then base, 2×base, 4×base … up to max.
 */
export function throttlePauseMs(slowStreak: number, settings: Pick<DeliverySettings, 'throttleBaseMs' | 'throttleMaxMs'>): number {
  if (slowStreak <= 0) return 0;
  return Math.min(settings.throttleMaxMs, settings.throttleBaseMs * 2 ** Math.min(slowStreak - 1, 30));
}

export type DeliveryKind = 'event' | 'robot';

/** One outbound POST as the control API shows it (`GET …/events/log`). */
export interface DeliveryLogEntry {
  seq: number;
  kind: DeliveryKind;
  event: string;
  /** The binding it was sent for; null for a delivery without binding (uninstall `handlerUrl`, robots). */
  event_handler_id: string | null;
  url: string;
  /** 1-based copy number; >1 only for injected duplicates. */
  copy: number;
  copies: number;
  status: 'pending' | 'delivered' | 'failed';
  /** No answer within the timeout: the queue gave up (counted as failed, never resent). */
  timed_out: boolean;
  /** Real time the handler took to answer (or until the timeout), in ms; null while pending. */
  duration_ms: number | null;
  /** The slow-handler pause waited before this POST, in ms (0 unless `throttleSlowHandlers`). */
  throttled_ms: number;
  http_status: number | null;
  error: string | null;
  response: string | null;
  queued_at_ms: number;
  finished_at_ms: number | null;
  /** The form fields before encoding (what the handler decodes with PHP bracket syntax). */
  payload: Record<string, unknown>;
}

export interface OutboxHooks {
  timeoutMs(): number;
  nowMs(): number;
  onResult(entry: DeliveryLogEntry, result: DeliveryResult): void;
}

/** Log entries kept per portal. */
const LOG_LIMIT = 500;

/**
 * The outbound queue of one portal. Deliveries never run inside the caller's await: `enqueue`
 * only schedules. Without `reorder`, deliveries to one URL go strictly one after another, in the
 * order they were queued. `idle()` resolves once everything queued so far (and anything queued
 * meanwhile) has finished — what tests wait on instead of sleeping.
 */
export class Outbox {
  settings: DeliverySettings = { ...DEFAULT_DELIVERY };
  readonly #pending = new Set<Promise<void>>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #log: DeliveryLogEntry[] = [];
  /** Slow answers in a row per handler URL (slow-handler throttling). */
  readonly #slowStreak = new Map<string, number>();
  #seq = 0;

  constructor(private readonly hooks: OutboxHooks) {}

  /** Queues one event for one URL; returns the log entries of its copies (pending). */
  enqueue(kind: DeliveryKind, event: string, url: string, payload: Record<string, unknown>, handlerId: string | null): DeliveryLogEntry[] {
    const { duplicateRate, duplicateCount } = this.settings;
    const copies = duplicateRate > 0 && Math.random() < duplicateRate ? Math.max(2, duplicateCount) : 1;
    const entries: DeliveryLogEntry[] = [];
    for (let copy = 1; copy <= copies; copy++) {
      const entry = this.#record({ kind, event, event_handler_id: handlerId, url, copy, copies, payload });
      entries.push(entry);
      this.#schedule(entry);
    }
    return entries;
  }

  /** A new pending log entry, kept in the bounded delivery log. */
  #record(fields: Pick<DeliveryLogEntry, 'kind' | 'event' | 'event_handler_id' | 'url' | 'copy' | 'copies' | 'payload'>): DeliveryLogEntry {
    const entry: DeliveryLogEntry = {
      seq: ++this.#seq,
      ...fields,
      status: 'pending',
      timed_out: false,
      duration_ms: null,
      throttled_ms: 0,
      http_status: null,
      error: null,
      response: null,
      queued_at_ms: this.hooks.nowMs(),
      finished_at_ms: null,
    };
    this.#log.push(entry);
    if (this.#log.length > LOG_LIMIT) this.#log.splice(0, this.#log.length - LOG_LIMIT);
    return entry;
  }

  /**
   * Counts `work` (which may send through this outbox) as pending until it settles, so `idle()`
   * also waits for it: a workflow stepping from one robot call to the next.
   */
  track(work: Promise<void>): Promise<void> {
    return this.#track(work);
  }

  /** Sends one POST now and waits for it (robot calls, whose control route answers with the result). */
  async sendNow(kind: DeliveryKind, event: string, url: string, payload: Record<string, unknown>): Promise<DeliveryLogEntry> {
    const entry = this.#record({ kind, event, event_handler_id: null, url, copy: 1, copies: 1, payload });
    await this.#track(this.#send(entry));
    return entry;
  }

  #schedule(entry: DeliveryLogEntry): void {
    const { reorder, reorderWindowMs, delayMs } = this.settings;
    if (reorder) {
      const waitMs = delayMs + Math.random() * reorderWindowMs;
      void this.#track(sleep(waitMs).then(() => this.#send(entry)));
      return;
    }
    // setImmediate: the POST starts after the REST answer that caused it has been written
    const previous = this.#chains.get(entry.url) ?? new Promise<void>((resolve) => setImmediate(resolve));
    const next = previous.catch(() => undefined).then(async () => {
      if (delayMs > 0) await sleep(delayMs);
      await this.#send(entry);
    });
    this.#chains.set(entry.url, next);
    void this.#track(next).then(() => {
      if (this.#chains.get(entry.url) === next) this.#chains.delete(entry.url);
    });
  }

  async #send(entry: DeliveryLogEntry): Promise<void> {
    const settings = this.settings;
    if (settings.throttleSlowHandlers) {
      const pauseMs = throttlePauseMs(this.#slowStreak.get(entry.url) ?? 0, settings);
      entry.throttled_ms = pauseMs;
      if (pauseMs > 0) await sleep(pauseMs);
    }
    const result = await postForm(entry.url, entry.payload, settings.timeoutMs ?? this.hooks.timeoutMs());
    const slow = result.status === 0 || result.durationMs > settings.slowAnswerMs;
    if (slow) this.#slowStreak.set(entry.url, (this.#slowStreak.get(entry.url) ?? 0) + 1);
    else this.#slowStreak.delete(entry.url);
    entry.status = result.ok ? 'delivered' : 'failed';
    entry.timed_out = result.timedOut;
    entry.duration_ms = result.durationMs;
    entry.http_status = result.status || null;
    entry.error = result.error ?? null;
    entry.response = result.body.slice(0, 500);
    entry.finished_at_ms = this.hooks.nowMs();
    this.hooks.onResult(entry, result);
  }

  #track(promise: Promise<void>): Promise<void> {
    const tracked = promise.catch(() => undefined);
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
    return tracked;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** The last `limit` log entries, oldest first. */
  log(limit = 100): DeliveryLogEntry[] {
    return this.#log.slice(-limit);
  }

  clearLog(): void {
    this.#log.length = 0;
  }
}
