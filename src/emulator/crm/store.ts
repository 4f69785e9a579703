import { CRM_ENTITIES, type CrmEntity, type MultiFieldType } from './fields.js';
import { UserFieldStore } from './user-fields.js';
import { SmartProcessStore } from './smart-processes.js';

/** One multi-field value (docs/protocol.md §6.4): read back as `{ID, VALUE_TYPE, VALUE, TYPE_ID}`. */
export interface MultiFieldValue {
  id: number;
  typeId: MultiFieldType;
  valueType: string;
  value: string;
}

/** A deal product row as crm.deal.productrows.get answers it (D:api-reference/crm/deals/crm-deal-productrows-get.md). */
export type ProductRow = Record<string, string | number | null>;

/**
 * One CRM row. Scalar values are kept in the wire form the legacy methods answer with
 * (strings or null), in catalogue order, so a full legacy answer is a plain copy of `fields`.
 * Bindings to several rows (`CONTACT_IDS`, `COMPANY_IDS`) live in `links`.
 */
export interface CrmRecord {
  id: number;
  fields: Record<string, string | null>;
  links: Record<string, number[]>;
  fm: MultiFieldValue[];
  productRows?: ProductRow[];
  /** Values of declared user fields, typed (user-fields.ts); undeclared `UF_CRM_*` stay in `fields`. */
  uf?: Record<string, unknown>;
}

/**
 * The rows of one entity. IDs only grow, so `ids` stays sorted by appending; deleting splices the
 * id out, keeping `ids` exactly the live rows. That makes `>ID` + `ID ASC` pages a binary search
 * plus a slice, and counts over an ID range free (docs/protocol.md §5.4 fast pagination).
 */
export class CrmTable {
  readonly rows = new Map<number, CrmRecord>();
  /** Live IDs, ascending. */
  readonly ids: number[] = [];
  #nextId = 1;

  get size(): number {
    return this.rows.size;
  }

  allocateId(): number {
    return this.#nextId++;
  }

  insert(record: CrmRecord): void {
    this.rows.set(record.id, record);
    this.ids.push(record.id);
  }

  get(id: number): CrmRecord | undefined {
    return this.rows.get(id);
  }

  delete(id: number): boolean {
    if (!this.rows.delete(id)) return false;
    const index = lowerBound(this.ids, id);
    if (this.ids[index] === id) this.ids.splice(index, 1);
    return true;
  }

  /** Index of the first live id ≥ `id`. */
  indexAtLeast(id: number): number {
    return lowerBound(this.ids, id);
  }
}

/** First index whose value is ≥ `value` (ids.length when none). */
export function lowerBound(values: readonly number[], value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** CRM data of one portal: leads, deals, contacts and companies with their multi-fields and product rows. */
export class CrmStore {
  readonly tables: Record<CrmEntity, CrmTable>;
  /** `crm.*.userfield.*` declarations. */
  readonly userFields = new UserFieldStore();
  /** Smart-process types (`crm.type.*`) and their items. */
  readonly smartProcesses = new SmartProcessStore();
  #nextMultiFieldId = 1;
  #nextProductRowId = 1;

  constructor() {
    this.tables = Object.fromEntries(CRM_ENTITIES.map((entity) => [entity, new CrmTable()])) as Record<CrmEntity, CrmTable>;
  }

  table(entity: CrmEntity): CrmTable {
    return this.tables[entity];
  }

  /** Multi-field IDs are unique across entities, as in the portal's shared b_crm_field_multi table. */
  allocateMultiFieldId(): number {
    return this.#nextMultiFieldId++;
  }

  allocateProductRowId(): number {
    return this.#nextProductRowId++;
  }
}
