import qs from 'qs';

/**
 * PHP bracket syntax (`fields[EMAIL][0][VALUE]=a@b.c`) for query strings and form bodies
 * (docs/protocol.md §4.2). The limits keep a hostile body from costing more than a legitimate one.
 */
export const PHP_QS_OPTIONS = {
  depth: 10,
  arrayLimit: 1000,
  parameterLimit: 10_000,
  allowPrototypes: false,
  plainObjects: false,
} as const;

export function parsePhpQuery(text: string): Record<string, unknown> {
  return qs.parse(text, PHP_QS_OPTIONS) as Record<string, unknown>;
}
