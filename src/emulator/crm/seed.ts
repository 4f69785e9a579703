import type { CrmEntity } from './fields.js';
import { legacyMultiFieldInput, templateRecord, TITLE_PREFIX, type WriteContext } from './records.js';
import type { CrmRecord } from './store.js';

export interface SeedResult {
  created: number;
  firstId: number | null;
  lastId: number | null;
}

const PLACEHOLDER = '{id}';

/**
 * Bulk-creates `count` rows for benchmarks and tests: one normalized template copied per row, no
 * events, no per-row validation. `{id}` inside a string value (or a multi-field VALUE) becomes
 * the row's ID, so `EMAIL: [{VALUE: 'user{id}@example.test'}]` gives every contact its own address.
 */
export function seedRows(entity: CrmEntity, count: number, fields: Record<string, unknown>, ctx: WriteContext): SeedResult {
  const template = templateRecord(entity, fields, ctx, legacyMultiFieldInput(fields));
  const table = ctx.store.table(entity);
  const titled = typeof fields.TITLE === 'string' && fields.TITLE !== '';
  const prefix = TITLE_PREFIX[entity];
  const entries = Object.entries(template.fields);
  const templated = entries.filter(([, value]) => typeof value === 'string' && value.includes(PLACEHOLDER)).map(([name]) => name);
  let firstId: number | null = null;
  let lastId: number | null = null;
  for (let index = 0; index < count; index += 1) {
    const id = table.allocateId();
    const text = String(id);
    const record: CrmRecord = {
      id,
      fields: { ...template.fields, ID: text },
      links: Object.fromEntries(Object.entries(template.links).map(([name, ids]) => [name, [...ids]])),
      fm: template.fm.map((item) => ({ ...item, id: ctx.store.allocateMultiFieldId(), value: item.value.replaceAll(PLACEHOLDER, text) })),
    };
    if (!titled && prefix) record.fields.TITLE = `${prefix} #${text}`;
    for (const name of templated) record.fields[name] = (template.fields[name] as string).replaceAll(PLACEHOLDER, text);
    table.insert(record);
    firstId ??= id;
    lastId = id;
  }
  return { created: count, firstId, lastId };
}
