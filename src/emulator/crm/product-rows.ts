import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { crmErrors } from './errors.js';
import { pick, positiveId } from './params.js';
import type { ProductRow } from './store.js';
import { isoInZone } from './dates.js';
import { emitCrmEvent } from './events.js';

/**
 * crm.deal.productrows.set / .get (docs/protocol.md §6.5, D:api-reference/crm/deals/crm-deal-productrows-set.md).
 * `set` replaces all rows; rows left out are deleted. PRICE is the final unit price (after
 * discount, with tax when TAX_INCLUDED=Y); the other prices are derived from it.
 */

const round2 = (value: number): number => Math.round(value * 100) / 100;

function num(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : fallback;
}

function buildRow(input: Record<string, unknown>, index: number, dealId: number, id: number): ProductRow {
  const has = (name: string): boolean => input[name] !== undefined && input[name] !== null && input[name] !== '';
  const discountType = num(input.DISCOUNT_TYPE_ID, 2) === 1 ? 1 : 2;
  if (has('DISCOUNT_TYPE_ID') && discountType === 2 && !has('DISCOUNT_RATE')) {
    throw crmErrors.productRow('Discount Rate (DISCOUNT_RATE) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined');
  }
  if (has('DISCOUNT_TYPE_ID') && discountType === 2 && num(input.DISCOUNT_RATE, 0) === 100 && !has('DISCOUNT_SUM')) {
    throw crmErrors.productRow('Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined and Discount Rate (DISCOUNT_RATE) is 100%');
  }
  if (has('DISCOUNT_TYPE_ID') && discountType === 1 && !has('DISCOUNT_SUM')) {
    throw crmErrors.productRow('Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type (DISCOUNT_TYPE_ID) is defined');
  }
  const price = num(input.PRICE, 0);
  const taxRate = has('TAX_RATE') ? num(input.TAX_RATE, 0) : null;
  const taxIncluded = input.TAX_INCLUDED === 'Y' || input.TAX_INCLUDED === true ? 'Y' : 'N';
  const exclusive = taxRate !== null && taxIncluded === 'Y' ? price / (1 + taxRate / 100) : price;
  let discountRate = num(input.DISCOUNT_RATE, 0);
  let discountSum = num(input.DISCOUNT_SUM, 0);
  let netto: number;
  if (discountType === 2 && discountRate < 100) {
    netto = exclusive / (1 - discountRate / 100);
    discountSum = netto - exclusive;
  } else {
    netto = exclusive + discountSum;
    if (netto > 0) discountRate = (discountSum / netto) * 100;
  }
  const brutto = taxRate !== null ? netto * (1 + taxRate / 100) : netto;
  const name = has('PRODUCT_NAME') ? String(input.PRODUCT_NAME) : '';
  return {
    ID: String(id),
    OWNER_ID: String(dealId),
    OWNER_TYPE: 'D',
    PRODUCT_ID: Math.trunc(num(input.PRODUCT_ID, 0)),
    PRODUCT_NAME: name,
    ORIGINAL_PRODUCT_NAME: name,
    PRODUCT_DESCRIPTION: has('PRODUCT_DESCRIPTION') ? String(input.PRODUCT_DESCRIPTION) : null,
    PRICE: round2(price),
    PRICE_EXCLUSIVE: round2(exclusive),
    PRICE_NETTO: round2(netto),
    PRICE_BRUTTO: round2(brutto),
    PRICE_ACCOUNT: price.toFixed(2),
    QUANTITY: num(input.QUANTITY, 1),
    DISCOUNT_TYPE_ID: discountType,
    DISCOUNT_RATE: round2(discountRate),
    DISCOUNT_SUM: round2(discountSum),
    TAX_RATE: taxRate,
    TAX_INCLUDED: taxIncluded,
    CUSTOMIZED: 'Y',
    MEASURE_CODE: Math.trunc(num(input.MEASURE_CODE, 796)),
    MEASURE_NAME: has('MEASURE_NAME') ? String(input.MEASURE_NAME) : 'pcs',
    SORT: Math.trunc(num(input.SORT, (index + 1) * 10)),
    XML_ID: null,
    TYPE: 1,
    STORE_ID: 0,
    RESERVE_ID: null,
    DATE_RESERVE_END: null,
    RESERVE_QUANTITY: null,
  };
}

function dealFor(ctx: MethodContext) {
  const id = positiveId(pick(ctx.params, 'id'));
  if (id === undefined) throw crmErrors.productRowsIdInvalid();
  const deal = ctx.portal.crm.table('deal').get(id);
  if (!deal) throw crmErrors.notFound();
  return deal;
}

function set(ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const deal = dealFor(ctx);
  const raw = pick(ctx.params, 'rows');
  if (raw === undefined || raw === null || (raw !== '' && typeof raw !== 'object')) throw crmErrors.mustBeArray('rows');
  const inputs = raw === '' ? [] : Object.values(raw as object);
  const previous = new Set((deal.productRows ?? []).map((row) => Number(row.ID)));
  const rows = inputs.map((input, index) => {
    if (!input || typeof input !== 'object') throw crmErrors.mustBeArray('rows');
    const entry = input as Record<string, unknown>;
    // a row that names one of the deal's current rows keeps its ID
    const keep = positiveId(entry.ID);
    const id = keep !== undefined && previous.has(keep) ? keep : ctx.portal.crm.allocateProductRowId();
    return buildRow(entry, index, deal.id, id);
  });
  deal.productRows = rows;
  if (deal.fields.IS_MANUAL_OPPORTUNITY !== 'Y') {
    // the deal amount follows its products unless set manually; the portal saves that through a
    // deal update, which fires ONCRMDEALUPDATE
    const sum = rows.reduce((total, row) => total + Number(row.PRICE) * Number(row.QUANTITY), 0);
    deal.fields.OPPORTUNITY = sum.toFixed(2);
    deal.fields.DATE_MODIFY = isoInZone(ctx.emulator.clock.nowMs(), ctx.portal.timeZone);
    deal.fields.MODIFY_BY_ID = String(ctx.auth.userId);
    emitCrmEvent(ctx, 'deal', 'UPDATE', deal.id);
  }
  return { result: true };
}

function get(ctx: MethodContext): MethodResult {
  const deal = dealFor(ctx);
  const rows = deal.productRows ?? [];
  ctx.work.rowsReturned = rows.length;
  return { result: rows.map((row) => ({ ...row })) };
}

export function registerProductRowMethods(registry: MethodRegistry): void {
  registry.define('crm.deal.productrows.set', { scope: 'crm', handler: set });
  registry.define('crm.deal.productrows.get', { scope: 'crm', handler: get });
}
