/** The `time` object of every REST answer (protocol §4.3). */
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

export function restTime(startMs: number, finishMs: number, operatingSeconds: number, operatingResetAt: number): RestTime {
  return {
    start: startMs / 1000,
    finish: finishMs / 1000,
    duration: (finishMs - startMs) / 1000,
    processing: (finishMs - startMs) / 1000,
    date_start: isoWithOffset(startMs),
    date_finish: isoWithOffset(finishMs),
    operating: round(operatingSeconds),
    operating_reset_at: operatingResetAt,
  };
}

/** `2026-01-01T12:00:00+00:00`, the form Bitrix24 uses (ISO 8601 with an explicit offset). */
export function isoWithOffset(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
