/**
 * Per-portal settings of the app and of each plugin, in `b24kit_portal_values` (migration 0009).
 * A namespace ('app' or the plugin's name) has a zod object schema; values are JSON, secrets are
 * sealed with the token encryption, bound to (member_id, namespace, key) so that a sealed value
 * copied into another row does not open. Reads check the schema; writes check each field.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { B24Error } from '../errors.js';
import type { SecretBox } from '../store/crypto.js';
import type { Store, Transaction } from '../store/types.js';
import type { SettingsDeclaration } from './kit.js';
import type { PortalSettings } from './types.js';

export const PORTAL_VALUES_TABLE = 'b24kit_portal_values';
/** What a sealed value reads as when it is not opened (only whether it is set matters). */
const SEALED = Symbol('sealed');

interface ValueRow {
  name: string;
  value: string;
  sealed: number;
}

/** One namespace's schema, its secret keys and its fields' own schemas (for partial writes). */
interface Namespace {
  schema: z.ZodType;
  secrets: ReadonlySet<string>;
  fields: Record<string, z.ZodType> | undefined;
}

/** One setting as `b24kit settings get` shows it. */
export interface SettingEntry {
  namespace: string;
  key: string;
  secret: boolean;
  /** Undefined when not set. */
  value: unknown;
}

export class PortalValues {
  readonly #store: Store;
  readonly #secrets: SecretBox;
  readonly #nowMs: () => number;
  readonly #namespaces = new Map<string, Namespace>();

  constructor(options: { store: Store; secrets: SecretBox; nowMs: () => number; declarations: ReadonlyMap<string, SettingsDeclaration> }) {
    this.#store = options.store;
    this.#secrets = options.secrets;
    this.#nowMs = options.nowMs;
    for (const [namespace, declaration] of options.declarations) {
      const shape = (declaration.schema as { shape?: Record<string, z.ZodType> }).shape;
      this.#namespaces.set(namespace, { schema: declaration.schema, secrets: new Set(declaration.secrets ?? []), fields: shape });
    }
  }

  /** The declared namespaces and their keys (for the CLI). */
  describe(): Array<{ namespace: string; keys: string[]; secrets: string[] }> {
    return [...this.#namespaces].map(([namespace, { fields, secrets }]) => ({ namespace, keys: Object.keys(fields ?? {}), secrets: [...secrets] }));
  }

  /** The accessor a handler gets as `ctx.settings`. */
  for<S extends Record<string, unknown>>(memberId: string, namespace: string): PortalSettings<S> {
    return {
      get: async () => (await this.get(memberId, namespace)) as S,
      peek: async () => (await this.#read(memberId, namespace)) as Partial<S>,
      set: (values) => this.set(memberId, namespace, values as Record<string, unknown>),
    };
  }

  /** The namespace's values for a portal, checked against its schema. */
  async get(memberId: string, namespace: string): Promise<Record<string, unknown>> {
    const { schema } = this.#namespace(namespace);
    const parsed = schema.safeParse(await this.#read(memberId, namespace));
    if (!parsed.success) {
      // names the keys, never the values (they may be secrets)
      const keys = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(', ');
      throw new B24Error('B24_ERR_SETTINGS', `settings ${namespace} of portal ${memberId} are incomplete or invalid: ${keys}`, { memberId });
    }
    return parsed.data as Record<string, unknown>;
  }

  /** Stores some values of a namespace (each checked against its field's schema). */
  async set(memberId: string, namespace: string, values: Record<string, unknown>): Promise<void> {
    const ns = this.#namespace(namespace);
    const rows: Array<[string, string, number]> = [];
    for (const [key, value] of Object.entries(values)) {
      const field = ns.fields?.[key];
      if (!field) throw new B24Error('B24_ERR_SETTINGS', `settings ${namespace} have no key ${key}`);
      const parsed = field.safeParse(value);
      if (!parsed.success) throw new B24Error('B24_ERR_SETTINGS', `settings ${namespace}.${key}: ${ns.secrets.has(key) ? 'invalid value' : parsed.error.issues[0]?.message ?? 'invalid value'}`);
      if (value === undefined) continue;
      // the value as given: reads parse it again, so a field's transform or default applies once
      const json = JSON.stringify(value);
      const secret = ns.secrets.has(key);
      rows.push([key, secret ? this.#secrets.seal(json, sealContext(memberId, namespace, key)) : json, secret ? 1 : 0]);
    }
    const now = Math.floor(this.#nowMs());
    await this.#store.transaction(async (tx) => {
      for (const [key, value, sealed] of rows) {
        await tx.run(
          `INSERT INTO ${PORTAL_VALUES_TABLE} (member_id, namespace, name, value, sealed, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (member_id, namespace, name) DO UPDATE SET value = excluded.value, sealed = excluded.sealed, updated_at_ms = excluded.updated_at_ms`,
          [memberId, namespace, key, value, sealed, now],
        );
      }
    });
  }

  /** Removes one key of a portal's settings. */
  async unset(memberId: string, namespace: string, key: string): Promise<boolean> {
    if (!this.#namespace(namespace).fields?.[key]) throw new B24Error('B24_ERR_SETTINGS', `settings ${namespace} have no key ${key}`);
    const result = await this.#store.run(`DELETE FROM ${PORTAL_VALUES_TABLE} WHERE member_id = ? AND namespace = ? AND name = ?`, [memberId, namespace, key]);
    return result.rowCount > 0;
  }

  /** Stores a new random secret (32 bytes, base64url) under `key` and returns it: the only time it is shown. */
  async rotate(memberId: string, namespace: string, key: string): Promise<string> {
    if (!this.#namespace(namespace).secrets.has(key)) throw new B24Error('B24_ERR_SETTINGS', `settings ${namespace}.${key} is not a secret: set it instead`);
    const secret = randomBytes(32).toString('base64url');
    await this.set(memberId, namespace, { [key]: secret });
    return secret;
  }

  /** Every declared key of a portal, with its value (secrets as `reveal` says). */
  async entries(memberId: string, options: { reveal?: boolean } = {}): Promise<SettingEntry[]> {
    const entries: SettingEntry[] = [];
    for (const { namespace, keys, secrets } of this.describe()) {
      // without reveal, secrets stay sealed: only whether one is set is read
      const values = await this.#read(memberId, namespace, { open: options.reveal === true });
      for (const key of keys) {
        const secret = secrets.includes(key);
        const value = values[key];
        entries.push({ namespace, key, secret, value: secret && !options.reveal && value !== undefined ? '••••' : value });
      }
    }
    return entries;
  }

  /** What is stored for (portal, namespace), secrets opened; keys no longer declared are skipped. */
  async #read(memberId: string, namespace: string, options: { open?: boolean } = {}): Promise<Record<string, unknown>> {
    const ns = this.#namespace(namespace);
    const rows = await this.#store.all<ValueRow>(`SELECT name, value, sealed FROM ${PORTAL_VALUES_TABLE} WHERE member_id = ? AND namespace = ?`, [memberId, namespace]);
    const values: Record<string, unknown> = {};
    for (const row of rows) {
      if (ns.fields && !(row.name in ns.fields)) continue;
      const sealed = Number(row.sealed) === 1;
      if (sealed && options.open === false) {
        values[row.name] = SEALED;
        continue;
      }
      const json = sealed ? this.#secrets.open(row.value, sealContext(memberId, namespace, row.name)) : row.value;
      values[row.name] = JSON.parse(json) as unknown;
    }
    return values;
  }

  #namespace(namespace: string): Namespace {
    const ns = this.#namespaces.get(namespace);
    if (!ns) throw new B24Error('B24_ERR_SETTINGS', `no settings are declared under ${namespace}`);
    return ns;
  }
}

function sealContext(memberId: string, namespace: string, key: string): string {
  return `portal-values:${memberId}:${namespace}:${key}`;
}

/** The per-portal purge of settings (uninstall with CLEAN). */
export async function deletePortalValues(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${PORTAL_VALUES_TABLE} WHERE member_id = ?`, [memberId]);
}
