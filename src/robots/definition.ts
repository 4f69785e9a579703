/**
 * A robot (automation rule) as the app declares it, its validation, and the `bizproc.robot.add` /
 * `bizproc.robot.update` parameters it maps to (docs/protocol.md §7.1). Pure: no I/O.
 */
import { B24Error } from '../errors.js';

/** A text the portal shows: one string, or one per language (`{en: 'Send SMS', de: 'SMS senden'}`). */
export type LocalizedText = string | Readonly<Record<string, string>>;

/** The property types `bizproc.robot.add` documents (docs/protocol.md §7.1). */
export type RobotPropertyType = 'bool' | 'date' | 'datetime' | 'double' | 'file' | 'int' | 'select' | 'string' | 'text' | 'user';

/** One input or return property of a robot. Keys of the map that holds it start with a letter. */
export interface RobotProperty {
  name: LocalizedText;
  description?: LocalizedText;
  /** @defaultValue 'string' (the portal's default) */
  type?: RobotPropertyType;
  /** For `select`: value → label. */
  options?: Readonly<Record<string, string>>;
  /** @defaultValue false */
  required?: boolean;
  /** @defaultValue false */
  multiple?: boolean;
  default?: unknown;
}

/**
 * The same property in the spelling of the Bitrix24 docs (docs/protocol.md §7.1), accepted as well so that
 * definitions copied from the docs work unchanged.
 */
export interface BitrixRobotProperty {
  Name: LocalizedText;
  Description?: LocalizedText;
  Type?: RobotPropertyType;
  Options?: Readonly<Record<string, string>>;
  Required?: 'Y' | 'N';
  Multiple?: 'Y' | 'N';
  Default?: unknown;
}

export type RobotPropertyInput = RobotProperty | BitrixRobotProperty;

/** A Bitrix24 document type, e.g. `['crm', 'CCrmDocumentDeal', 'DEAL']`. */
export type DocumentType = readonly [module: string, entity: string, type: string];

export interface RobotDefinition {
  /** Unique per app, `[a-zA-Z0-9._-]`. Also the last segment of the robot's handler URL. */
  code: string;
  name: LocalizedText;
  description?: LocalizedText;
  /** Input properties by key (`^[a-zA-Z][a-zA-Z0-9_]*$`). */
  properties?: Readonly<Record<string, RobotPropertyInput>>;
  /** Values the handler returns through `bizproc.event.send`, by key. */
  returnProperties?: Readonly<Record<string, RobotPropertyInput>>;
  /**
   * Whether the workflow waits for the app's `bizproc.event.send`. `false` = fire-and-forget (and
   * no return values). @defaultValue true
   */
  useSubscription?: boolean;
  /** Limit the robot to one document type. @defaultValue every type the portal allows */
  documentType?: DocumentType;
  /** The user whose token the robot call carries. @defaultValue the user picked in the robot's settings */
  authUserId?: number;
  /** Where the robot is offered: document types, or `'b24'` (cloud) / `'box'` (on-premise). */
  filter?: { include?: ReadonlyArray<string | readonly string[]>; exclude?: ReadonlyArray<string | readonly string[]> };
}

const CODE = /^[a-zA-Z0-9._-]+$/;
const PROPERTY_KEY = /^[a-zA-Z][a-zA-Z0-9_]*$/;
const PROPERTY_TYPES: ReadonlySet<string> = new Set<RobotPropertyType>(['bool', 'date', 'datetime', 'double', 'file', 'int', 'select', 'string', 'text', 'user']);

/** True for a code the portal accepts AND that is safe as a URL path segment (not `.` or `..`). */
export function isValidRobotCode(code: unknown): code is string {
  return typeof code === 'string' && CODE.test(code) && !/^\.+$/.test(code);
}

/**
 * Checks a robot definition before anything is sent; throws B24_ERR_INVALID_ARGUMENT naming the
 * robot and the field. The portal would refuse the same things with ERROR_ACTIVITY_VALIDATION_FAILURE,
 * one robot at a time.
 */
export function validateRobotDefinition(definition: RobotDefinition): void {
  const code = definition?.code;
  if (!isValidRobotCode(code)) throw invalid(`robot code ${JSON.stringify(String(code)).slice(0, 80)} must match [a-zA-Z0-9._-]+`);
  const where = `robot ${code}`;
  if (!hasText(definition.name)) throw invalid(`${where}: name is empty`);
  if (definition.description !== undefined && !isLocalized(definition.description)) throw invalid(`${where}: description must be a string or {lang: text}`);
  checkProperties(definition.properties, `${where}: properties`);
  checkProperties(definition.returnProperties, `${where}: returnProperties`);
  if (definition.useSubscription !== undefined && typeof definition.useSubscription !== 'boolean') throw invalid(`${where}: useSubscription must be a boolean`);
  if (definition.useSubscription === false && definition.returnProperties && Object.keys(definition.returnProperties).length > 0) {
    // the portal only accepts bizproc.event.send from robots that wait for it (docs/protocol.md §7.3)
    throw invalid(`${where}: returnProperties need useSubscription (a fire-and-forget robot cannot return values)`);
  }
  if (definition.documentType !== undefined) {
    const type = definition.documentType as unknown;
    if (!Array.isArray(type) || type.length !== 3 || type.some((part) => typeof part !== 'string' || part === '')) {
      throw invalid(`${where}: documentType must be three non-empty strings, e.g. ['crm', 'CCrmDocumentDeal', 'DEAL']`);
    }
  }
  if (definition.authUserId !== undefined && !(Number.isInteger(definition.authUserId) && definition.authUserId > 0)) {
    throw invalid(`${where}: authUserId must be a positive integer`);
  }
  if (definition.filter !== undefined) {
    const filter = definition.filter as Record<string, unknown>;
    const keys = Object.keys(filter ?? {});
    const ok = filter !== null && typeof filter === 'object' && keys.every((key) => (key === 'include' || key === 'exclude') && Array.isArray(filter[key]));
    if (!ok) throw invalid(`${where}: filter must be {include?: [...], exclude?: [...]}`);
  }
}

/** Validates a list of definitions, codes unique. */
export function validateRobotDefinitions(definitions: readonly RobotDefinition[]): void {
  const seen = new Set<string>();
  for (const definition of definitions) {
    validateRobotDefinition(definition);
    if (seen.has(definition.code)) throw invalid(`robot code ${definition.code} is declared twice`);
    seen.add(definition.code);
  }
}

/**
 * The fields of `bizproc.robot.add` (without CODE) — also the FIELDS of `bizproc.robot.update`, so
 * an update sets exactly what an add would have.
 */
export function robotFields(definition: RobotDefinition, handlerUrl: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    HANDLER: handlerUrl,
    NAME: definition.name,
    // an empty USE_SUBSCRIPTION also waits; say Y/N explicitly so an update can switch it back
    USE_SUBSCRIPTION: definition.useSubscription === false ? 'N' : 'Y',
    PROPERTIES: propertiesParam(definition.properties),
    RETURN_PROPERTIES: propertiesParam(definition.returnProperties),
  };
  if (definition.description !== undefined) fields.DESCRIPTION = definition.description;
  if (definition.authUserId !== undefined) fields.AUTH_USER_ID = definition.authUserId;
  if (definition.documentType !== undefined) fields.DOCUMENT_TYPE = [...definition.documentType];
  if (definition.filter !== undefined) {
    const filter: Record<string, unknown> = {};
    if (definition.filter.include) filter.INCLUDE = definition.filter.include.map((entry) => (typeof entry === 'string' ? entry : [...entry]));
    if (definition.filter.exclude) filter.EXCLUDE = definition.filter.exclude.map((entry) => (typeof entry === 'string' ? entry : [...entry]));
    fields.FILTER = filter;
  }
  return fields;
}

/** `bizproc.robot.add` parameters. */
export function robotAddParams(definition: RobotDefinition, handlerUrl: string): Record<string, unknown> {
  return { CODE: definition.code, ...robotFields(definition, handlerUrl) };
}

/** The camelCase form of a property given in either spelling. */
function normalizeRobotProperty(input: RobotPropertyInput): RobotProperty {
  if ('name' in input || !('Name' in input)) return input as RobotProperty;
  const out: RobotProperty = { name: input.Name };
  if (input.Description !== undefined) out.description = input.Description;
  if (input.Type !== undefined) out.type = input.Type;
  if (input.Options !== undefined) out.options = input.Options;
  if (input.Required !== undefined) out.required = String(input.Required).toUpperCase() === 'Y';
  if (input.Multiple !== undefined) out.multiple = String(input.Multiple).toUpperCase() === 'Y';
  if (input.Default !== undefined) out.default = input.Default;
  return out;
}

function propertiesParam(properties: Readonly<Record<string, RobotPropertyInput>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, input] of Object.entries(properties ?? {})) {
    const property = normalizeRobotProperty(input);
    const param: Record<string, unknown> = { Name: property.name, Type: property.type ?? 'string' };
    if (property.description !== undefined) param.Description = property.description;
    if (property.options !== undefined) param.Options = property.options;
    param.Required = property.required ? 'Y' : 'N';
    param.Multiple = property.multiple ? 'Y' : 'N';
    if (property.default !== undefined) param.Default = property.default;
    out[key] = param;
  }
  return out;
}

function checkProperties(properties: Readonly<Record<string, RobotPropertyInput>> | undefined, where: string): void {
  if (properties === undefined) return;
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) throw invalid(`${where} must be an object keyed by property key`);
  for (const [key, input] of Object.entries(properties)) {
    if (!PROPERTY_KEY.test(key)) throw invalid(`${where}: key ${JSON.stringify(key).slice(0, 80)} must start with a letter and hold only [a-zA-Z0-9_]`);
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalid(`${where}.${key} must be an object`);
    for (const flag of ['Required', 'Multiple'] as const) {
      const value = (input as Partial<BitrixRobotProperty>)[flag];
      if (value !== undefined && !['Y', 'N'].includes(String(value).toUpperCase())) throw invalid(`${where}.${key}: ${flag} must be Y or N`);
    }
    const property = normalizeRobotProperty(input);
    if (!hasText(property.name)) throw invalid(`${where}.${key}: name is empty`);
    if (property.type !== undefined && !PROPERTY_TYPES.has(property.type)) throw invalid(`${where}.${key}: unknown type (expected one of ${[...PROPERTY_TYPES].join(', ')})`);
    if (property.options !== undefined && (property.options === null || typeof property.options !== 'object' || Array.isArray(property.options))) {
      throw invalid(`${where}.${key}: options must be {value: label}`);
    }
  }
}

function isLocalized(value: unknown): value is LocalizedText {
  if (typeof value === 'string') return true;
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((text) => typeof text === 'string');
}

function hasText(value: unknown): boolean {
  if (typeof value === 'string') return value.trim() !== '';
  return isLocalized(value) && Object.values(value).some((text) => text.trim() !== '');
}

function invalid(message: string): B24Error {
  return new B24Error('B24_ERR_INVALID_ARGUMENT', message);
}
