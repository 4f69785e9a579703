/**
 * What a B24Client reports while it works: a typed callback per client (no global registry), for
 * metrics and tracing. Events never carry tokens or webhook URLs. A throwing callback is ignored.
 */
import type { ErrorCode } from '../errors.js';
import { setTimeout as sleepFor } from 'node:timers/promises';

export type B24ClientEvent =
  /** One HTTP exchange finished. `status` 0 = no answer (timeout, network). */
  | {
      type: 'request';
      method: string;
      memberId: string | undefined;
      status: number;
      durationMs: number;
      /** 1 for the first try of this call. */
      attempt: number;
      /** Commands carried: 1, or a batch's size. */
      commands: number;
      /** Set when the exchange failed. */
      errorCode?: ErrorCode;
      bitrixCode?: string;
    }
  /** The call waited for the leaky bucket or for the method's operating budget. */
  | { type: 'limiter-wait'; method: string; memberId: string | undefined; reason: 'bucket' | 'operating'; waitMs: number }
  /** The portal refused the token; the provider was asked to refresh it. */
  | { type: 'refresh'; method: string; memberId: string | undefined }
  /** The call is tried again after `delayMs`. */
  | { type: 'retry'; method: string; memberId: string | undefined; attempt: number; delayMs: number; reason: ErrorCode }
  /**
   * The portal answered 503 QUERY_LIMIT_EXCEEDED or 429 OPERATION_TIME_LIMIT: the limiter was
   * wrong (another process or app drew from the budget, or state was lost). Counted and logged.
   */
  | { type: 'limit-exceeded'; method: string; memberId: string | undefined; status: number; bitrixCode: string }
  /** The portal moved (302); the call was re-POSTed to the new host and the provider told. */
  | { type: 'redirect'; method: string; memberId: string | undefined; fromHost: string; toHost: string };

export type B24ClientEventListener = (event: B24ClientEvent) => void;

/** A pino-compatible logger; only these two levels are used. */
export interface B24Logger {
  warn(object: Record<string, unknown>, message: string): void;
  debug(object: Record<string, unknown>, message: string): void;
}

/** Time as the client sees it; tests pass a virtual clock. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) {
      signal?.throwIfAborted();
      return;
    }
    try {
      await sleepFor(ms, undefined, signal ? { signal } : undefined);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  },
};
