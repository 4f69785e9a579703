/**
 * The contacts sync's own tables, in the app's store (`ctx.store`, the same store the framework
 * uses; SQL that runs on SQLite and PostgreSQL, src/store/types.ts):
 *
 * - `b24kit_contacts_sync`: one row per portal and e-mail address — the CRM contact it is linked
 *   to, the synced fields with the time each was set (the last-writer-wins clock), and one content
 *   fingerprint per side: of what the sync last wrote to, or saw on, that side. An incoming change
 *   with the same fingerprint is the sync's own write coming back, and is dropped.
 * - `b24kit_contacts_cursor`: per portal, the newest `last_changed` the poll has read.
 *
 * Created on first use (`CREATE TABLE IF NOT EXISTS`), deleted per portal on an uninstall with
 * CLEAN (the plugin's purgeOnUninstall).
 */
import { isUniqueViolation } from '../../store/public.js';
import type { Queryable, Store } from '../../store/types.js';
import type { FieldTimes, SyncedContact } from './fields.js';

export const SYNC_TABLE = 'b24kit_contacts_sync';
export const CURSOR_TABLE = 'b24kit_contacts_cursor';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${SYNC_TABLE} (
    member_id     TEXT NOT NULL,
    email         TEXT NOT NULL,
    contact_id    BIGINT,
    synced        TEXT NOT NULL,
    crm_hash      TEXT NOT NULL,
    service_hash  TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (member_id, email)
  )`,
  `CREATE INDEX IF NOT EXISTS ${SYNC_TABLE}_contact ON ${SYNC_TABLE} (member_id, contact_id)`,
  `CREATE TABLE IF NOT EXISTS ${CURSOR_TABLE} (
    member_id     TEXT PRIMARY KEY,
    since_ms      BIGINT NOT NULL
  )`,
];

/** One linked (or being linked) contact. */
export interface SyncRow {
  email: string;
  /** Null while the contact is being created in the CRM. */
  contactId: number | null;
  contact: SyncedContact;
  times: FieldTimes;
  crmHash: string;
  serviceHash: string;
}

interface RawRow {
  email: string;
  contact_id: number | string | null;
  synced: string;
  crm_hash: string;
  service_hash: string;
}

const ready = new WeakMap<Store, Promise<void>>();

/** Creates the tables once per store and process (a concurrent creator elsewhere is fine). */
export function ensureSyncTables(store: Store): Promise<void> {
  let done = ready.get(store);
  if (!done) {
    done = (async () => {
      for (const statement of SCHEMA) {
        try {
          await store.exec(statement);
        } catch (error) {
          // two processes creating at once on PostgreSQL: the loser's catalog insert collides
          if (!isUniqueViolation(error)) throw error;
        }
      }
    })();
    done.catch(() => ready.delete(store));
    ready.set(store, done);
  }
  return done;
}

function toRow(raw: RawRow): SyncRow {
  const synced = JSON.parse(raw.synced) as { contact: SyncedContact; times: FieldTimes };
  return {
    email: raw.email,
    contactId: raw.contact_id === null ? null : Number(raw.contact_id),
    contact: synced.contact,
    times: synced.times,
    crmHash: raw.crm_hash,
    serviceHash: raw.service_hash,
  };
}

const COLUMNS = 'email, contact_id, synced, crm_hash, service_hash';

/** A portal's sync state: rows by e-mail or by contact, and the poll's cursor. */
export class SyncState {
  constructor(
    private readonly db: Queryable,
    private readonly memberId: string,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async byEmail(email: string): Promise<SyncRow | undefined> {
    const raw = await this.db.one<RawRow>(`SELECT ${COLUMNS} FROM ${SYNC_TABLE} WHERE member_id = ? AND email = ?`, [this.memberId, email]);
    return raw && toRow(raw);
  }

  async byContact(contactId: number): Promise<SyncRow | undefined> {
    const raw = await this.db.one<RawRow>(`SELECT ${COLUMNS} FROM ${SYNC_TABLE} WHERE member_id = ? AND contact_id = ? ORDER BY email LIMIT 1`, [this.memberId, contactId]);
    return raw && toRow(raw);
  }

  /** Every row of the portal (the reconciliation reads them all at once). */
  async all(): Promise<SyncRow[]> {
    return (await this.db.all<RawRow>(`SELECT ${COLUMNS} FROM ${SYNC_TABLE} WHERE member_id = ?`, [this.memberId])).map(toRow);
  }

  async put(row: SyncRow): Promise<void> {
    await this.db.run(
      `INSERT INTO ${SYNC_TABLE} (member_id, email, contact_id, synced, crm_hash, service_hash, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (member_id, email) DO UPDATE SET contact_id = excluded.contact_id, synced = excluded.synced, crm_hash = excluded.crm_hash,
         service_hash = excluded.service_hash, updated_at_ms = excluded.updated_at_ms`,
      [this.memberId, row.email, row.contactId, JSON.stringify({ contact: row.contact, times: row.times }), row.crmHash, row.serviceHash, this.nowMs()],
    );
  }

  async remove(email: string): Promise<void> {
    await this.db.run(`DELETE FROM ${SYNC_TABLE} WHERE member_id = ? AND email = ?`, [this.memberId, email]);
  }

  async cursor(): Promise<number | undefined> {
    const row = await this.db.one<{ since_ms: number | string }>(`SELECT since_ms FROM ${CURSOR_TABLE} WHERE member_id = ?`, [this.memberId]);
    return row ? Number(row.since_ms) : undefined;
  }

  /** Moves the cursor forward only (two polls at once never move it back). */
  async advanceCursor(sinceMs: number): Promise<void> {
    await this.db.run(
      `INSERT INTO ${CURSOR_TABLE} (member_id, since_ms) VALUES (?, ?)
       ON CONFLICT (member_id) DO UPDATE SET since_ms = CASE WHEN excluded.since_ms > ${CURSOR_TABLE}.since_ms THEN excluded.since_ms ELSE ${CURSOR_TABLE}.since_ms END`,
      [this.memberId, sinceMs],
    );
  }
}

/** Deletes a portal's rows (uninstall with CLEAN). */
export async function purgeSyncState(tx: Queryable, memberId: string): Promise<void> {
  // the tables may not exist yet (a portal that never synced); the purge transaction must not fail for that
  for (const table of [SYNC_TABLE, CURSOR_TABLE]) {
    const exists = await tableExists(tx, table);
    if (exists) await tx.run(`DELETE FROM ${table} WHERE member_id = ?`, [memberId]);
  }
}

async function tableExists(db: Queryable, table: string): Promise<boolean> {
  const row =
    db.dialect === 'sqlite'
      ? await db.one(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?`, [table])
      : await db.one(`SELECT 1 AS found FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()`, [table]);
  return row !== undefined;
}
