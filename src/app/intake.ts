/**
 * Idempotent intake: `app.ingest(memberId, job, externalId, payload)` turns "a source sent item X"
 * into exactly one job run per distinct content of X, whatever the source repeats.
 *
 * The rule, per (portal, job, externalId), against the item's current job:
 *
 * | the item's job is …           | same payload        | changed payload                                  |
 * |-------------------------------|---------------------|--------------------------------------------------|
 * | (none: first time)            | `created`           | `created`                                        |
 * | queued (not started, or waiting for a retry) | `duplicate` | `superseded`: the SAME job now carries the new payload, due now, with a fresh attempt budget and none of the old payload's `ctx.once` memos |
 * | running                       | `duplicate`         | `revised`: a new job (runs after or alongside; handlers must be idempotent on externalId) |
 * | succeeded                     | `duplicate`         | `revised`: a new job                            |
 * | dead                          | `retried`: a new job | `retried`: a new job with the new payload       |
 *
 * so a corrected resend after a dead job runs again, and an identical resend of a done item is
 * answered with the job that did it. `revision` counts the payloads that made or changed a job.
 *
 * With a `version` (the item's own modification time at the source, or any number that grows with
 * each change), a payload whose version is below the newest one seen for the item is answered
 * `stale` with the item's current job, and changes nothing: a webhook delivered out of order, or
 * replayed, cannot undo a later change. An equal version is judged by the rule above.
 * One row per item in `b24kit_intake` (migration 0009) records the revision, the payload's hash
 * and the job; the decision and the enqueue commit in one transaction (the row is locked), so two
 * concurrent copies never make two jobs.
 */
import { createHash } from 'node:crypto';
import { B24Error } from '../errors.js';
import type { JobQueue } from '../queue/index.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, type JobRow } from '../queue/job-row.js';
import type { Job, Json } from '../queue/types.js';
import type { Store, Transaction } from '../store/types.js';
import type { IngestResult } from './kit.js';
import { ONCE_TABLE } from './once.js';

export const INTAKE_TABLE = 'b24kit_intake';
/** Longest external id accepted (order numbers, UUIDs, composite keys). */
const EXTERNAL_ID = /^[\x21-\x7e]{1,200}$/;

interface IntakeRow {
  revision: number;
  payload_hash: string;
  job_id: number;
  version: number | string | null;
}

export async function ingest<P>(
  parts: { store: Store; queue: JobQueue; nowMs: () => number },
  input: { memberId: string; jobName: string; externalId: string; payload: P; version?: number | undefined },
): Promise<IngestResult<P>> {
  const { memberId, jobName, externalId, payload, version } = input;
  if (typeof externalId !== 'string' || !EXTERNAL_ID.test(externalId)) {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'ingest: externalId must be 1–200 printable ASCII characters without spaces');
  }
  if (version !== undefined && !Number.isSafeInteger(version)) {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', `ingest: version must be a whole number (e.g. a modification time in ms), got ${String(version)}`);
  }
  const hash = payloadHash(payload as Json);
  const now = Math.floor(parts.nowMs());
  return parts.store.transaction(async (tx) => {
    // a placeholder first, then the row locked: concurrent copies of a new item queue up on it
    await tx.run(
      `INSERT INTO ${INTAKE_TABLE} (member_id, source, external_id, revision, payload_hash, job_id, updated_at_ms) VALUES (?, ?, ?, 0, '', 0, ?)
       ON CONFLICT (member_id, source, external_id) DO NOTHING`,
      [memberId, jobName, externalId, now],
    );
    const row = (await tx.one<IntakeRow>(`SELECT revision, payload_hash, job_id, version FROM ${INTAKE_TABLE} WHERE member_id = ? AND source = ? AND external_id = ? FOR UPDATE`, [
      memberId,
      jobName,
      externalId,
    ]))!;
    const currentRow = Number(row.revision) > 0 ? await tx.one<JobRow>(`SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE} WHERE id = ?`, [Number(row.job_id)]) : undefined;
    // a job purged by retention counts as none: the item runs again as new
    const current = currentRow ? toJob<P>(currentRow) : undefined;
    const newest = row.version === null || row.version === undefined ? undefined : Number(row.version);
    if (current && version !== undefined && newest !== undefined && version < newest) return { job: current, outcome: 'stale', revision: Number(row.revision) };
    const same = current !== undefined && row.payload_hash === hash;
    if (current && current.state !== 'dead' && same) {
      // nothing to do, but a newer version still counts: an older change arriving later is stale
      if (version !== undefined && (newest === undefined || version > newest)) {
        await tx.run(`UPDATE ${INTAKE_TABLE} SET version = ? WHERE member_id = ? AND source = ? AND external_id = ?`, [version, memberId, jobName, externalId]);
      }
      return { job: current, outcome: 'duplicate', revision: Number(row.revision) };
    }
    const revision = Number(row.revision) + 1;
    if (current && current.state === 'queued') {
      // the new payload is new work: a fresh attempt budget, due now (not after the old one's
      // backoff), and no `ctx.once` memos of the old payload, which would skip its steps
      const replaced = await tx.run(`UPDATE ${JOBS_TABLE} SET payload = ?, attempts = 0, run_at_ms = ?, updated_at_ms = ? WHERE id = ? AND state = 'queued'`, [
        JSON.stringify(payload),
        now,
        now,
        current.id,
      ]);
      if (replaced.rowCount === 1) {
        await tx.run(`DELETE FROM ${ONCE_TABLE} WHERE job_id = ?`, [current.id]);
        await record(tx, input, revision, hash, current.id, now);
        return { job: { ...current, payload, attempts: 0, runAtMs: now }, outcome: 'superseded', revision };
      }
    }
    const { job } = await parts.queue.enqueue<P>(tx, { memberId, name: jobName, payload, key: `ingest:${externalId}:r${revision}` });
    await record(tx, input, revision, hash, job.id, now);
    const outcome: IngestResult['outcome'] = !current ? 'created' : current.state === 'dead' ? 'retried' : 'revised';
    return { job: job as Job<P>, outcome, revision };
  });
}

async function record(
  tx: Transaction,
  input: { memberId: string; jobName: string; externalId: string; version?: number | undefined },
  revision: number,
  hash: string,
  jobId: number,
  now: number,
): Promise<void> {
  // the newest version seen stays (a payload without one keeps it)
  await tx.run(
    `UPDATE ${INTAKE_TABLE} SET revision = ?, payload_hash = ?, job_id = ?, updated_at_ms = ?,
       version = CASE WHEN version IS NULL OR version < ? THEN ? ELSE version END
     WHERE member_id = ? AND source = ? AND external_id = ?`,
    [revision, hash, jobId, now, input.version ?? null, input.version ?? null, input.memberId, input.jobName, input.externalId],
  );
}

/** SHA-256 of the payload's JSON with object keys sorted: key order does not make a new revision. */
export function payloadHash(payload: Json): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The per-portal purge of intake rows (uninstall with CLEAN). */
export async function deletePortalIntake(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${INTAKE_TABLE} WHERE member_id = ?`, [memberId]);
}
