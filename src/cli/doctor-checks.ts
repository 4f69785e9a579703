/**
 * The checks of `b24kit doctor`, in order: configuration, database and migrations, the OAuth
 * server, the public app URL, and each installed portal's event bindings. Each check returns what
 * it found and, when it failed, what to do about it; none changes anything (no migration, no bind).
 * A check that cannot run yet (no configuration, no database) is skipped, not failed: the failure
 * it depends on is already on the list.
 */
import { existsSync } from 'node:fs';
import type { Logger as PinoLogger } from 'pino';
import { declaredBindings } from '../app/bindings.js';
import { appInternals } from '../app/internals.js';
import type { B24kitConfig } from '../config/index.js';
import { bindingsDrift, parseEventGet, type BindingRef } from '../events/bindings.js';
import { openStore } from '../store/index.js';
import { loadMigrations } from '../store/migrations.js';
import type { PortalInfo } from '../store/portals.js';
import type { Store } from '../store/types.js';
import { loadApp } from './app-loader.js';
import { cliConfig, cliPortalRuntime, cliRegistry, describeError } from './context.js';
import { startProgress } from './progress.js';

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface CheckResult {
  /** `config`, `database`, `oauth`, `public-url`, `bindings`. */
  check: string;
  /** The portal a `bindings` result is about. */
  portal?: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do, when it failed. */
  fix?: string;
}

export interface DoctorOptions {
  /** `--app`: the module whose declared events the bindings are checked against. */
  appPath?: string;
  logger: PinoLogger;
  /** Per HTTP probe (OAuth server, public URL), in ms. @defaultValue 5000 */
  probeTimeoutMs?: number;
}

/** Runs every check; resolves with one result per check (one per portal for bindings). */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let config: B24kitConfig;
  try {
    config = cliConfig();
    results.push({ check: 'config', status: 'ok', message: `valid (${config.demo ? 'demo mode: no B24_CLIENT_ID' : `client ${config.clientId}`})` });
  } catch (error) {
    results.push({ check: 'config', status: 'fail', message: describeError(error), fix: 'set the variables named above (README.md, Configuration; docs/deploy.md)' });
    for (const check of ['database', 'oauth', 'public-url', 'bindings']) results.push({ check, status: 'skip', message: 'needs a valid configuration' });
    return results;
  }
  const timeoutMs = options.probeTimeoutMs ?? 5000;

  const { result: database, store: opened } = await checkDatabase(config);
  results.push(database);
  // the portals' bindings need the portals table: a database with migrations pending may not have it
  const store = database.status === 'ok' ? opened : undefined;
  if (opened && !store) await opened.close();
  try {
    results.push(await checkOAuthServer(config, timeoutMs));
    results.push(await checkPublicUrl(config, timeoutMs));
    if (!store) results.push({ check: 'bindings', status: 'skip', message: 'needs a reachable database with migrations current' });
    else results.push(...(await checkBindings(config, store, options)));
  } finally {
    await store?.close();
  }
  return results;
}

async function checkDatabase(config: B24kitConfig): Promise<{ result: CheckResult; store?: Store }> {
  const check = 'database';
  // opening a SQLite path creates the file: a doctor must not leave an empty database behind
  if (config.database.kind === 'sqlite' && config.database.path !== ':memory:' && !existsSync(config.database.path)) {
    return {
      result: { check, status: 'fail', message: `no database at ${config.database.path}`, fix: 'run `b24kit migrate` (or start the app) to create it, or point DATABASE_URL at the existing one' },
    };
  }
  let store: Store;
  try {
    store = await openStore({ url: config.databaseUrl, migrate: false });
    await store.one('SELECT 1 AS ok');
  } catch (error) {
    return {
      result: {
        check,
        status: 'fail',
        message: `cannot open the ${config.database.kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} database: ${describeError(error)}`,
        fix: config.database.kind === 'postgres' ? 'check that PostgreSQL runs and DATABASE_URL (host, port, database, user, password) is right' : 'check DATABASE_URL and the file\'s permissions',
      },
    };
  }
  try {
    const known = loadMigrations(store.dialect);
    const applied = new Set(await appliedMigrations(store));
    const pending = known.filter((migration) => !applied.has(migration.version));
    const unknown = [...applied].filter((version) => !known.some((migration) => migration.version === version));
    const latest = Math.max(0, ...applied);
    if (unknown.length > 0) {
      return {
        store,
        result: {
          check,
          status: 'fail',
          message: `${store.location}: schema version ${latest} is newer than this b24kit knows (${Math.max(0, ...known.map((m) => m.version))})`,
          fix: 'run the b24kit version that migrated this database, or newer',
        },
      };
    }
    if (pending.length > 0) {
      const names = pending.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
      return {
        store,
        result: { check, status: 'fail', message: `${store.location}: ${pending.length} migration(s) not applied (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`, fix: 'run `b24kit migrate`' },
      };
    }
    return { store, result: { check, status: 'ok', message: `${store.location}: reachable, migrations current (version ${latest})` } };
  } catch (error) {
    await store.close();
    return { result: { check, status: 'fail', message: `cannot read the migrations table: ${describeError(error)}`, fix: 'run `b24kit migrate`' } };
  }
}

/** Applied migration versions; none when the table does not exist yet. */
async function appliedMigrations(store: Store): Promise<number[]> {
  const exists =
    store.dialect === 'postgres'
      ? await store.one("SELECT 1 AS ok FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'b24kit_migrations'")
      : await store.one("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = 'b24kit_migrations'");
  if (!exists) return [];
  return (await store.all<{ version: number }>('SELECT version FROM b24kit_migrations')).map((row) => Number(row.version));
}

/** Any HTTP answer but a 5xx counts as reachable: a token request without parameters is refused, and that is an answer. */
async function checkOAuthServer(config: B24kitConfig, timeoutMs: number): Promise<CheckResult> {
  const check = 'oauth';
  if (config.demo) return { check, status: 'skip', message: 'demo mode: the built-in emulator is the OAuth server' };
  const url = `${config.oauthUrl}/oauth/token/`;
  const fix = `check this machine's outbound HTTPS to ${new URL(config.oauthUrl).host} (DNS, proxy, firewall) and B24_OAUTH_URL`;
  try {
    const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    if (response.status >= 500) return { check, status: 'fail', message: `${url} answered ${response.status}`, fix };
    return { check, status: 'ok', message: `${config.oauthUrl} reachable (answered ${response.status})${config.oauthUrlOverride ? '' : "; portals' own OAuth servers are used when they name one"}` };
  } catch (error) {
    return { check, status: 'fail', message: `${url} unreachable: ${probeError(error, timeoutMs)}`, fix };
  }
}

/** HEAD {B24_APP_URL}/health from this machine: it proves the URL answers, not that the internet reaches it. */
async function checkPublicUrl(config: B24kitConfig, timeoutMs: number): Promise<CheckResult> {
  const check = 'public-url';
  if (!config.appUrl) return { check, status: 'skip', message: 'B24_APP_URL is not set; demo mode uses the listening URL' };
  const url = `${config.appUrl}/health`;
  const fix = 'run `b24kit start` or `b24kit web`, and make B24_APP_URL reach it from the internet (DNS, TLS, reverse proxy, firewall): Bitrix24 posts installs and events there';
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    if (response.status !== 200) return { check, status: 'fail', message: `HEAD ${url} answered ${response.status}, not 200`, fix };
    return { check, status: 'ok', message: `HEAD ${url} answered 200 (checked from this machine; Bitrix24 reaches it from outside)` };
  } catch (error) {
    return { check, status: 'fail', message: `HEAD ${url} failed: ${probeError(error, timeoutMs)}`, fix };
  }
}

function probeError(error: unknown, timeoutMs: number): string {
  if ((error as { name?: string }).name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? describeError(error);
}

/** Per portal: `event.get` through its client against the app's declared events. */
async function checkBindings(config: B24kitConfig, store: Store, options: DoctorOptions): Promise<CheckResult[]> {
  const check = 'bindings';
  const portals = (await cliRegistry(store, config, { secrets: false }).list()).filter((portal) => portal.state !== 'uninstalled');
  if (portals.length === 0) return [{ check, status: 'skip', message: 'no installed portals' }];
  const app = await loadApp({ logger: options.logger, ...(options.appPath ? { appPath: options.appPath } : {}) });
  const { definitions, settings } = appInternals(app);
  const declared = declaredBindings(definitions, settings.config.offlineEvents?.notifyMinTimeoutSeconds);
  // demo mode binds the listening URL (the app's own, on PORT)
  const appUrl = config.appUrl ?? `http://127.0.0.1:${config.port}`;
  let runtime: ReturnType<typeof cliPortalRuntime>;
  try {
    runtime = cliPortalRuntime(config, store, options.logger);
  } catch (error) {
    return [{ check, status: 'fail', message: `cannot open the portals' tokens: ${describeError(error)}`, fix: 'set B24KIT_SECRET_KEY to the key the tokens were sealed with' }];
  }
  const results: CheckResult[] = [];
  const progress = startProgress('checking bindings', portals.length);
  for (const [index, portal] of portals.entries()) {
    progress.update(index, portal.domain);
    results.push(await checkPortalBindings(portal, runtime, { appUrl, ...declared }, config));
  }
  progress.end();
  return results;
}

async function checkPortalBindings(
  portal: PortalInfo,
  runtime: ReturnType<typeof cliPortalRuntime>,
  declared: { appUrl: string } & ReturnType<typeof declaredBindings>,
  config: B24kitConfig,
): Promise<CheckResult> {
  const base = { check: 'bindings', portal: portal.domain };
  if (portal.state === 'needs_reauth') {
    return { ...base, status: 'fail', message: `${portal.domain} needs re-authorization: its tokens no longer work`, fix: `an administrator of ${portal.domain} opens ${declared.appUrl}/oauth/start?domain=${portal.domain}` };
  }
  const client = runtime.client(portal.memberId, { deadlineMs: 15_000 });
  try {
    const { result } = await client.call('event.get');
    const drift = bindingsDrift(parseEventGet(result), { ...declared, memberId: portal.memberId });
    if (drift.missing.length === 0 && drift.stale.length === 0) {
      return { ...base, status: 'ok', message: `${portal.domain}: ${drift.kept.length} event binding(s) as declared` };
    }
    const parts = [
      ...(drift.missing.length > 0 ? [`missing ${drift.missing.map(describeBinding).join(', ')}`] : []),
      ...(drift.stale.length > 0 ? [`stale ${drift.stale.map(describeBinding).join(', ')}`] : []),
    ];
    return {
      ...base,
      status: 'fail',
      message: `${portal.domain}: ${parts.join('; ')}`,
      fix: `bindings are made at install and at every app update: update or reinstall the app in ${portal.domain}${config.appUrl ? ', and check that B24_APP_URL is the URL it was installed with' : ''}`,
    };
  } catch (error) {
    return {
      ...base,
      status: 'fail',
      message: `${portal.domain}: event.get failed: ${describeError(error)}`,
      fix: config.demo ? 'demo mode: the demo portal lives in `npm start`\'s emulator; run `npm start` and try again' : `check that ${portal.clientEndpoint} is reachable and the app is still installed there`,
    };
  } finally {
    await client.close();
  }
}

function describeBinding(binding: BindingRef): string {
  return binding.mode === 'offline' ? `${binding.event} (offline)` : binding.event;
}
