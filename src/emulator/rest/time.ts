import { isoInZone } from '../crm/dates.js';

/**
 * The `time` object of every REST answer (apidocs.bitrix24.com api-reference/data-types#time). `start`, `finish`,
 * `duration`, `processing` and `operating` are doubles; `date_start` and `date_finish` carry the
 * portal's UTC offset, as CRM dates of the same portal do (`2025-09-09T16:31:11+03:00` there).
 */
export interface RestTime {
  start: number;
  finish: number;
  duration: number;
  processing: number;
  date_start: string;
  date_finish: string;
  operating: number;
  operating_reset_at: number;
}

export interface RestTimeInput {
  /** When the command started, on the emulator's clock (epoch ms). */
  startMs: number;
  /** When it finished: the start plus the modelled cost plus the measured time (epoch ms, fractional). */
  finishMs: number;
  /** Time spent in the method itself, in ms (the docs' `processing` is at most `duration`). */
  processingMs: number;
  operatingSeconds: number;
  operatingResetAt: number;
  /** The portal's IANA zone, for `date_start` / `date_finish`. */
  timeZone: string;
}

export function restTime(input: RestTimeInput): RestTime {
  const { start, finish, duration } = span(input.startMs, input.finishMs);
  return {
    start,
    finish,
    duration,
    // part of the duration: measured on its own, it may round a microsecond above it
    processing: Math.min(round(input.processingMs / 1000), duration),
    date_start: isoInZone(input.startMs, input.timeZone),
    date_finish: isoInZone(input.finishMs, input.timeZone),
    // PHP's json_encode writes a float zero as `0`: the docs' examples show `"operating": 0`
    operating: round(input.operatingSeconds),
    operating_reset_at: input.operatingResetAt,
  };
}

/**
 * The `time` object of the OAuth server's own REST answers (app.info). The OAuth server is no portal
 * and has no portal zone: its dates are in UTC (b24pysdk's fixtures: `"date_start": "2023-01-01T00:00:00+00:00"`),
 * and it has no operating budget.
 */
export function serverTime(startMs: number, finishMs: number): Omit<RestTime, 'operating' | 'operating_reset_at'> {
  const { start, finish, duration } = span(startMs, finishMs);
  return {
    start,
    finish,
    duration,
    processing: duration,
    date_start: isoWithOffset(startMs),
    date_finish: isoWithOffset(finishMs),
  };
}

/** `2026-01-01T12:00:00+00:00`: ISO 8601 in UTC with an explicit offset, the OAuth server's form. */
export function isoWithOffset(ms: number): string {
  return new Date(Math.floor(ms)).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/**
 * `start` and `finish` in unix seconds to the microsecond, and `duration` as their difference (the
 * portal takes both from one microtime clock): rounding each of the three on its own could leave
 * `finish - start` up to 1.5 µs off `duration`.
 */
function span(startMs: number, finishMs: number): { start: number; finish: number; duration: number } {
  const start = round(startMs / 1000);
  const finish = round(finishMs / 1000);
  return { start, finish, duration: round(finish - start) };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
