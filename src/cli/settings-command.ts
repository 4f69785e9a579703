/**
 * `b24kit settings list|get|set|unset|rotate`: a portal's settings (the app's and each plugin's,
 * src/app/portal-values.ts) from the command line. Secrets print as `••••` unless `--reveal`; a
 * value given as `-` is read from stdin, so that a secret stays out of shell history; the logger
 * (stderr) never sees a value.
 *
 * The app is not opened (no emulator, no web server, no app logger on stdout): its declarations
 * and its resolved store and key are enough, and they are the ones the app itself uses.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import { appInternals } from '../app/internals.js';
import { APP_OWNER } from '../app/definitions.js';
import type { SettingsDeclaration } from '../app/kit.js';
import { PortalValues } from '../app/portal-values.js';
import { B24Error } from '../errors.js';
import { createSecretBox, resolveSecretKey } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import { PortalRegistry } from '../store/portals.js';
import { loadApp } from './app-loader.js';
import { cliConfig, cliLogger, describeError } from './context.js';

/** What `get` and `list` print instead of a secret (the same mask as PortalValues.entries). */
const MASK = '••••';

/** One declared setting: `id` is what the commands take (`namespace.key`). */
export interface DeclaredSetting {
  id: string;
  namespace: string;
  key: string;
  secret: boolean;
  field: z.ZodType;
}

/** Every declared setting, the app's first, in declaration order. */
export function declaredSettings(declarations: ReadonlyMap<string, SettingsDeclaration>): DeclaredSetting[] {
  const namespaces = [...declarations.keys()].sort((a, b) => Number(b === APP_OWNER) - Number(a === APP_OWNER));
  return namespaces.flatMap((namespace) => {
    const declaration = declarations.get(namespace)!;
    const shape = (declaration.schema as { shape?: Record<string, z.ZodType> }).shape ?? {};
    const secrets = new Set<string>(declaration.secrets ?? []);
    return Object.entries(shape).map(([key, field]) => ({ id: `${namespace}.${key}`, namespace, key, secret: secrets.has(key), field }));
  });
}

/**
 * The setting a command-line key names. Plugin names may contain dots (`shop.eu`), so the
 * namespace is the LONGEST declared one the key starts with (`shop.eu.secret` → `shop.eu`,
 * `secret`); a key under no declared namespace is the app's (`webhookUrl` → `app`, `webhookUrl`).
 * `app.<key>` always names the app's key.
 */
export function resolveSetting(settings: readonly DeclaredSetting[], text: string): DeclaredSetting {
  const namespaces = [...new Set(settings.map((s) => s.namespace))].filter((ns) => text.startsWith(`${ns}.`) && text.length > ns.length + 1);
  const namespace = namespaces.sort((a, b) => b.length - a.length)[0];
  const [ns, key] = namespace === undefined ? [APP_OWNER, text] : [namespace, text.slice(namespace.length + 1)];
  const found = settings.find((s) => s.namespace === ns && s.key === key);
  if (!found) throw new B24Error('B24_ERR_SETTINGS', `no setting ${text}; declared: ${settings.map((s) => s.id).join(', ')}`);
  return found;
}

/** Minimal view of a zod 4 schema's definition, for `takesText`. */
interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  entries?: Record<string, unknown>;
  values?: unknown[];
  options?: z.ZodType[];
}

/** Whether a field only holds strings: z.string() and its formats, string enums and literals, optional/default/nullable of those. */
function takesText(field: z.ZodType, depth = 0): boolean {
  const def = (field as unknown as { _zod: { def: SchemaDef } })._zod.def;
  if (depth > 16) return false;
  switch (def.type) {
    case 'string':
    case 'template_literal':
      return true;
    case 'enum':
      return Object.values(def.entries ?? {}).every((value) => typeof value === 'string');
    case 'literal':
      return (def.values ?? []).every((value) => typeof value === 'string');
    case 'union':
      return (def.options ?? []).every((option) => takesText(option, depth + 1));
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return def.innerType !== undefined && takesText(def.innerType, depth + 1);
    case 'pipe':
      return def.in !== undefined && takesText(def.in, depth + 1);
    case 'lazy':
      return def.getter !== undefined && takesText(def.getter(), depth + 1);
    default:
      return false;
  }
}

/**
 * The value a command-line text stands for in a field. A string field takes the text as it is
 * (`123` stays "123", `"a"` keeps its quotes). Any other field takes the text parsed as JSON when it
 * parses (`123` → 123, `true`, `["a"]`, `{"a":1}`), unless only the plain text fits the field (a
 * union of string and number takes `abc`); text that is not JSON stays a string (and the schema
 * then says what it expected).
 */
export function settingValue(field: z.ZodType, text: string): unknown {
  if (takesText(field)) return text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text;
  }
  return !field.safeParse(json).success && field.safeParse(text).success ? text : json;
}

/** What a field holds when not set: required, its default, or nothing. */
function unsetState(field: z.ZodType): { required: boolean; fallback: unknown } {
  const parsed = field.safeParse(undefined);
  return { required: !parsed.success, fallback: parsed.success ? parsed.data : undefined };
}

function notSet(setting: DeclaredSetting): string {
  const { required, fallback } = unsetState(setting.field);
  if (required) return 'not set: required';
  if (fallback === undefined) return 'not set';
  // a secret's default is a secret too (it is in the source, but not for printing)
  return `not set: default ${setting.secret ? MASK : JSON.stringify(fallback)}`;
}

/** How a value prints: strings as they are (scripts read them), anything else as JSON. */
function plain(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('b24kit: type the value, then Enter and Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  // `echo secret |` and a terminal's Enter add one line end that is not part of the value
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new B24Error('B24_ERR_SETTINGS', 'no value on stdin');
  return text;
}

interface Session {
  memberId: string;
  settings: DeclaredSetting[];
  values: PortalValues;
}

/** Loads the app, opens its store with its key, checks the portal, runs `fn`, closes what it opened. */
async function withSettings<T>(memberId: string, appPath: string | undefined, fn: (session: Session) => Promise<T>): Promise<T> {
  const config = cliConfig();
  const logger = cliLogger(config);
  // without --app the loader would warn that only install and OAuth are served: true of `start`, noise here
  const app = await loadApp({ logger: appPath ? logger : cliLogger(config, 'error'), ...(appPath ? { appPath } : {}) });
  const { definitions, settings: resolved } = appInternals(app);
  const settings = declaredSettings(definitions.settings);
  if (settings.length === 0) {
    throw new B24Error(
      'B24_ERR_SETTINGS',
      appPath
        ? `${appPath} declares no settings (createApp({ settings }) or a plugin's settings)`
        : 'no --app given, and the built-in app declares no settings: pass --app with the module whose default export is your app',
    );
  }
  const store = resolved.store ?? (await openStore({ url: resolved.databaseUrl, logger }));
  try {
    const secrets = createSecretBox(resolveSecretKey({ key: resolved.secretKey, dataDir: resolved.dataDir }));
    if (!(await new PortalRegistry({ store, secrets }).info(memberId))) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', `no portal ${memberId}`, { memberId });
    const values = new PortalValues({ store, secrets, nowMs: resolved.nowMs, declarations: definitions.settings });
    return await fn({ memberId, settings, values });
  } finally {
    // a store the app was given belongs to whoever gave it
    if (!resolved.store) await store.close();
  }
}

/** Runs a command body; a failure is one line on stderr (the stable code first: scripts match on it) and exit code 1. */
async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    console.error(`b24kit: ${describeError(error)}`);
    process.exitCode = 1;
  }
}

async function stored(session: Session, setting: DeclaredSetting, reveal: boolean): Promise<{ set: boolean; value: unknown }> {
  const entry = (await session.values.entries(session.memberId, { reveal })).find((e) => e.namespace === setting.namespace && e.key === setting.key);
  return entry?.value === undefined ? { set: false, value: undefined } : { set: true, value: entry.value };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

const APP_OPTION = ['--app <module>', 'a module whose default export is the app (createApp()) that declares the settings'] as const;
const KEY_HELP = "`key` for the app's settings, `plugin.key` for a plugin's (see `b24kit settings list`)";

const SET_HELP = `
The value:
  - a string field (z.string(), z.url(), a string enum, …) takes the text as it is: 123 stores "123";
  - any other field takes the text as JSON when it parses: 123 → 123, true, '["a","b"]', '{"a":1}';
    text that is not JSON stays a string (a z.number() field then refuses it: B24_ERR_SETTINGS);
  - \`-\` reads the value from stdin (one trailing line end dropped). Use it for secrets, so that they
    stay out of shell history:  printf %s "$SECRET" | b24kit settings set <memberId> shop.signingSecret -

For a secret the other side generates nothing, prefer \`b24kit settings rotate\`.`;

export function registerSettingsCommand(program: Command): void {
  const settings = program
    .command('settings')
    .description("A portal's settings (the app's and its plugins'): list, get, set, unset, rotate; secrets print as •••• unless --reveal")
    .addHelpText('after', `\nKeys: ${KEY_HELP}. The settings are those the app given with --app declares.`);

  settings
    .command('list')
    .description('Every declared setting of a portal, set or not (secrets as •••• unless --reveal)')
    .argument('<memberId>', "the portal's member_id (see `b24kit portals list`)")
    .option(...APP_OPTION)
    .option('--reveal', 'print secrets in clear')
    .option('--json', 'print JSON')
    .action((memberId: string, options: { app?: string; reveal?: boolean; json?: boolean }) =>
      run(() =>
        withSettings(memberId, options.app, async (session) => {
          const entries = await session.values.entries(memberId, { reveal: options.reveal === true });
          const rows = session.settings.map((setting) => {
            const value = entries.find((e) => e.namespace === setting.namespace && e.key === setting.key)?.value;
            return { setting, value, required: unsetState(setting.field).required };
          });
          if (options.json) {
            const list = rows.map(({ setting, value, required }) => ({ key: setting.id, namespace: setting.namespace, name: setting.key, secret: setting.secret, required, set: value !== undefined, value }));
            return void console.log(JSON.stringify(list, null, 2));
          }
          const lines = [['KEY', 'SECRET', 'VALUE']];
          for (const { setting, value } of rows) {
            const shown = value === undefined ? `(${notSet(setting)})` : setting.secret && !options.reveal ? MASK : JSON.stringify(value);
            lines.push([setting.id, setting.secret ? 'yes' : '', shown]);
          }
          console.log(table(lines));
        }),
      ),
    );

  settings
    .command('get')
    .description('One setting: strings print as they are, other values as JSON; a secret as •••• unless --reveal. Not set: exit code 1')
    .argument('<memberId>', "the portal's member_id")
    .argument('<key>', KEY_HELP)
    .option(...APP_OPTION)
    .option('--reveal', 'print a secret in clear')
    .option('--json', 'print JSON')
    .action((memberId: string, text: string, options: { app?: string; reveal?: boolean; json?: boolean }) =>
      run(() =>
        withSettings(memberId, options.app, async (session) => {
          const setting = resolveSetting(session.settings, text);
          const { set, value } = await stored(session, setting, options.reveal === true);
          if (options.json) console.log(JSON.stringify({ key: setting.id, secret: setting.secret, set, value }, null, 2));
          if (!set) {
            // like `git config --get`: scripts tell "not set" from an empty value by the exit code
            console.error(`b24kit: ${setting.id} is ${notSet(setting)} for portal ${memberId}`);
            process.exitCode = 1;
            return;
          }
          if (!options.json) console.log(plain(value));
          if (setting.secret && !options.reveal) console.error(`b24kit: ${setting.id} is a secret: --reveal prints it`);
        }),
      ),
    );

  settings
    .command('set')
    .description('Store one setting, checked against its schema (B24_ERR_SETTINGS when it does not fit)')
    .argument('<memberId>', "the portal's member_id")
    .argument('<key>', KEY_HELP)
    .argument('<value>', 'the value (see below); `-` reads it from stdin')
    .option(...APP_OPTION)
    .addHelpText('after', SET_HELP)
    .action((memberId: string, text: string, raw: string, options: { app?: string }) =>
      run(() =>
        withSettings(memberId, options.app, async (session) => {
          const setting = resolveSetting(session.settings, text);
          const fromStdin = raw === '-';
          const value = settingValue(setting.field, fromStdin ? await readStdin() : raw);
          await session.values.set(memberId, setting.namespace, { [setting.key]: value });
          console.log(setting.secret ? `set ${setting.id} (secret) for portal ${memberId}` : `set ${setting.id} = ${JSON.stringify(value)} for portal ${memberId}`);
          if (setting.secret && !fromStdin) console.error(`b24kit: tip: give a secret as \`-\` and pipe it in, so that it stays out of shell history`);
        }),
      ),
    );

  settings
    .command('unset')
    .description('Remove one setting (a required one missing makes the handlers that read the settings fail with B24_ERR_SETTINGS)')
    .argument('<memberId>', "the portal's member_id")
    .argument('<key>', KEY_HELP)
    .option(...APP_OPTION)
    .action((memberId: string, text: string, options: { app?: string }) =>
      run(() =>
        withSettings(memberId, options.app, async (session) => {
          const setting = resolveSetting(session.settings, text);
          const removed = await session.values.unset(memberId, setting.namespace, setting.key);
          console.log(removed ? `unset ${setting.id} for portal ${memberId}` : `${setting.id} was not set for portal ${memberId}`);
        }),
      ),
    );

  settings
    .command('rotate')
    .description('Store a new random secret (32 bytes, base64url) under a secret key and print it on stdout, this once')
    .argument('<memberId>', "the portal's member_id")
    .argument('<key>', `a secret key: ${KEY_HELP}`)
    .option(...APP_OPTION)
    .addHelpText('after', '\nThe old secret stops working at once: configure the new one on the other side (the system that signs or calls with it) right away.')
    .action((memberId: string, text: string, options: { app?: string }) =>
      run(() =>
        withSettings(memberId, options.app, async (session) => {
          const setting = resolveSetting(session.settings, text);
          const secret = await session.values.rotate(memberId, setting.namespace, setting.key);
          console.log(secret);
          console.error(`b24kit: new secret for ${setting.id} of portal ${memberId} printed above, shown only now (\`b24kit settings get --reveal\` opens it again): configure it on the other side`);
        }),
      ),
    );
}
