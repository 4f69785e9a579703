import type { Params } from '../methods/registry.js';

/**
 * Params with upper-case keys. The core runs `array_change_key_case` on event.* and bizproc.*
 * queries, so `event`, `EVENT` and `Event` are the same parameter.
 */
export function upperKeys(params: Params): Params {
  const out: Params = {};
  for (const [key, value] of Object.entries(params)) out[key.toUpperCase()] = value;
  return out;
}

/** A scalar param as a trimmed string; '' when missing or not a scalar. */
export function stringOf(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** A param as an integer as PHP intval() reads it; 0 when it is not a number. */
export function intOf(value: unknown): number {
  const n = Number.parseInt(stringOf(value), 10);
  return Number.isFinite(n) ? n : 0;
}

/** A plain object (not an array) or undefined. */
export function objectOf(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
