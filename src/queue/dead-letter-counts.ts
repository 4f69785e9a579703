/**
 * Dead jobs counted by job name and the error code of their last error: what `/metrics` reports as
 * dead letters. Read from the store, so every process reports the same totals.
 */
import { ERROR_CODES } from '../errors.js';
import type { Queryable } from '../store/types.js';
import { JOBS_TABLE } from './job-row.js';

/** How many dead jobs of one job name died of one error. */
export interface DeadLetterCount {
  /** The job's name as stored (`job:sync`, `event:ONCRMDEALADD`, `robot:score`, `schedule:nightly`). */
  name: string;
  /** The `B24_ERR_*` code of the last error; `other` for an error without one (a handler's own Error). */
  code: string;
  count: number;
}

/** Longest prefix read as a code; anything longer is not one of ours. */
const MAX_CODE_LENGTH = 64;

/**
 * The last error is stored as `CODE: message` for b24kit's errors and `Name: message` for others
 * (queue/errors.ts, errorText); the prefix is grouped in SQL, so a million dead jobs are not read
 * row by row, and only registered codes become a code (any other prefix is `other`).
 */
export async function countDeadLetters(db: Queryable): Promise<DeadLetterCount[]> {
  const position = db.dialect === 'postgres' ? "strpos(last_error, ':')" : "instr(last_error, ':')";
  const rows = await db.all<{ name: string; prefix: string | null; n: number }>(
    `SELECT name, CASE WHEN ${position} BETWEEN 2 AND ${MAX_CODE_LENGTH + 1} THEN substr(last_error, 1, ${position} - 1) ELSE '' END AS prefix, COUNT(*) AS n
     FROM ${JOBS_TABLE} WHERE state = 'dead' GROUP BY name, prefix`,
  );
  const counts = new Map<string, DeadLetterCount>();
  for (const row of rows) {
    const code = row.prefix !== null && Object.hasOwn(ERROR_CODES, row.prefix) ? row.prefix : 'other';
    const key = `${row.name}\u0000${code}`;
    const entry = counts.get(key) ?? { name: row.name, code, count: 0 };
    entry.count += Number(row.n);
    counts.set(key, entry);
  }
  return [...counts.values()].sort((a, b) => a.name.localeCompare(b.name) || a.code.localeCompare(b.code));
}
