import type { Relaxations } from '../options.js';
import { RestError } from '../rest-error.js';
import { checkHandlerUrl } from '../events/handler-url.js';
import { objectOf, stringOf } from '../events/param.js';
import type { Robot, RobotProperty } from './registry.js';

/** ERROR_ACTIVITY_VALIDATION_FAILURE with one of the documented messages (bizproc-robot-add.md). */
export function validationFailure(message: string): RestError {
  return new RestError(400, 'ERROR_ACTIVITY_VALIDATION_FAILURE', message);
}

/** Checks a robot CODE: non-empty, `[a-zA-Z0-9._-]` (docs/protocol.md §7.1). */
export function checkCode(value: unknown): string {
  const code = stringOf(value);
  if (code === '') throw validationFailure('Empty activity code!');
  if (!/^[a-zA-Z0-9._-]+$/.test(code)) throw validationFailure('Wrong activity code!');
  return code;
}

/** The robot fields of an add, or of an update's FIELDS (`partial`), validated and normalised. */
export function robotFields(input: Record<string, unknown>, relax: Relaxations, partial: boolean): Partial<Robot> {
  const out: Partial<Robot> = {};
  if (!partial || input.HANDLER !== undefined) {
    checkHandlerUrl(stringOf(input.HANDLER), relax);
    out.HANDLER = stringOf(input.HANDLER);
  }
  if (!partial || input.NAME !== undefined) {
    if (!hasText(input.NAME)) throw validationFailure('Empty activity NAME!');
    out.NAME = input.NAME;
  }
  if (input.DESCRIPTION !== undefined) out.DESCRIPTION = input.DESCRIPTION;
  if (input.AUTH_USER_ID !== undefined) out.AUTH_USER_ID = Number.parseInt(stringOf(input.AUTH_USER_ID), 10) || 0;
  if (input.USE_SUBSCRIPTION !== undefined) out.USE_SUBSCRIPTION = yesNo(input.USE_SUBSCRIPTION);
  if (input.USE_PLACEMENT !== undefined) out.USE_PLACEMENT = yesNo(input.USE_PLACEMENT);
  if (input.PLACEMENT_HANDLER !== undefined) out.PLACEMENT_HANDLER = stringOf(input.PLACEMENT_HANDLER);
  if (input.PROPERTIES !== undefined) out.PROPERTIES = properties(input.PROPERTIES);
  if (input.RETURN_PROPERTIES !== undefined) out.RETURN_PROPERTIES = properties(input.RETURN_PROPERTIES);
  if (input.FILTER !== undefined) out.FILTER = filter(input.FILTER);
  if (input.DOCUMENT_TYPE !== undefined) out.DOCUMENT_TYPE = documentType(input.DOCUMENT_TYPE);
  return out;
}

function yesNo(value: unknown): string {
  if (value === true) return 'Y';
  if (value === false) return 'N';
  const text = stringOf(value).toUpperCase();
  return text === 'Y' || text === 'N' ? text : '';
}

/** A string, or an object of localised strings with at least one non-empty value. */
function hasText(value: unknown): boolean {
  if (typeof value === 'string') return value.trim() !== '';
  const object = objectOf(value);
  return object !== undefined && Object.values(object).some((v) => typeof v === 'string' && v.trim() !== '');
}

function properties(value: unknown): Record<string, RobotProperty> {
  if (value === '' || (Array.isArray(value) && value.length === 0)) return {};
  const object = objectOf(value);
  if (!object) throw validationFailure('Wrong properties array!');
  const out: Record<string, RobotProperty> = {};
  for (const [key, raw] of Object.entries(object)) {
    if (!/^[a-zA-Z][a-zA-Z0-9_]*$/.test(key)) throw validationFailure(`Wrong property key ${key}!`);
    const property = objectOf(raw);
    if (!property) throw validationFailure('Wrong properties array!');
    const name = property.Name ?? property.NAME;
    if (!hasText(name)) throw validationFailure(`Empty property NAME ${key}!`);
    out[key] = { ...property, Name: name } as RobotProperty;
  }
  return out;
}

function filter(value: unknown): unknown {
  if (value === '' || (Array.isArray(value) && value.length === 0)) return {};
  const object = objectOf(value);
  const valid = object !== undefined && Object.entries(object).every(([key, rules]) => (key === 'INCLUDE' || key === 'EXCLUDE') && Array.isArray(rules));
  if (!valid) throw validationFailure('Wrong activity FILTER!');
  return object;
}

function documentType(value: unknown): string[] {
  const list = Array.isArray(value) ? value : objectOf(value) ? Object.values(objectOf(value)!) : undefined;
  if (!list || list.length !== 3 || list.some((item) => typeof item !== 'string' || item === '')) {
    throw validationFailure('Wrong activity DOCUMENT_TYPE!');
  }
  return list as string[];
}
