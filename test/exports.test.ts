/**
 * The public surface: the runtime names of `b24kit` and of each subpath, pinned; the root kept
 * small and free of the emulator; every entry reachable through package.json "exports" from dist/.
 * Adding or removing an export is a decision about the API: make it here on purpose. (Types vanish
 * at runtime and are guarded by `npm run typecheck`.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);

/** At most this many runtime values at the root: what an app is written with, nothing under it. */
const ROOT_CAP = 25;

interface Entry {
  /** The source file the subpath is built from. */
  source: string;
  /** Its runtime names, sorted. */
  names: string[];
}

const ENTRIES: Record<string, Entry> = {
  b24kit: {
    source: '../src/index.js',
    names: ['B24App', 'B24Client', 'B24Error', 'ERROR_CODES', 'NonRetryableError', 'auth', 'createApp', 'definePlugin', 'loadConfig'],
  },
  'b24kit/emulator': {
    source: '../src/emulator/index.js',
    names: [
      'DEFAULT_LIMITS',
      'DEFAULT_MAILCHIMP_API_KEY',
      'ENTERPRISE_LIMITS',
      'Emulator',
      'MailchimpEmulator',
      'REALISTIC_COST',
      'ZERO_COST',
      'buildEmulatorServer',
      'buildMailchimpServer',
      'installApp',
      'startEmulator',
      'startMailchimpEmulator',
      'subscriberHash',
    ],
  },
  'b24kit/store': {
    source: '../src/store/public.js',
    names: [
      'PortalRegistry',
      'createSecretBox',
      'isUniqueViolation',
      'openStore',
      'parseSecretKey',
      'resolveSecretKey',
      'runMigrations',
      'runStoreContract',
      'safeEqual',
    ],
  },
  'b24kit/rest': {
    source: '../src/rest/public.js',
    names: [
      'ENTERPRISE_BUCKET',
      'InMemoryBucketStore',
      'OperatingTracker',
      'PortalTokenService',
      'RateLimiter',
      'STANDARD_BUCKET',
      'StaticTokenProvider',
      'StoreBucketStateStore',
      'StoreOperatingStateStore',
      'WebhookProvider',
      'bucketLimitsForLicense',
      'createPortalTokenProvider',
      'createStoreOperatingTracker',
      'createStoreRateLimiter',
      'createTokenClient',
      'refreshIdlePortals',
    ],
  },
  'b24kit/testing': {
    source: '../src/testing/index.js',
    names: ['emulatorControl', 'startTestApp'],
  },
  'b24kit/integrations': {
    source: '../src/integrations/index.js',
    names: ['ContactsSettings', 'ContactsSyncState', 'DEFAULT_STAGES', 'EmailServiceError', 'MailchimpAdapter', 'OrdersSettings', 'SchedulesSettings', 'WebhookRejected', 'contactsSyncPlugin', 'ordersPlugin', 'reconcileContacts', 'scheduledRulesPlugin', 'subscriberHash'],
  },
};

const sorted = (names: readonly string[]): string[] => [...names].sort();

/**
 * A child process's script: imports `process.argv[1]` and prints the URL of every module the ESM
 * loader loaded for it. A `load` hook (module.register, off-thread) posts each URL to this thread;
 * the sentinel module, loaded last, marks the end of the stream (one port: messages keep their order).
 */
const LOADED_MODULES_SCRIPT = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const hooks = 'let port; export function initialize(data) { port = data.port; } export async function load(url, context, next) { port.postMessage(url); return next(url, context); }';
const SENTINEL = 'data:text/javascript,export default 0';
const { port1, port2 } = new MessageChannel();
const loaded = [];
const done = new Promise((resolve) => port1.on('message', (url) => (url === SENTINEL ? resolve() : loaded.push(url))));
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
await import(process.argv[1]);
await import(SENTINEL);
await done;
port1.close();
console.log(JSON.stringify(loaded));
`;

/** The module URLs loading `entry` (a src/ file, through tsx) pulls in. */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const target = new URL(entry, import.meta.url).href;
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', LOADED_MODULES_SCRIPT, target], {
    cwd: repoRoot,
    timeout: 60_000,
  });
  return JSON.parse(stdout) as string[];
}

describe('public exports', () => {
  for (const [specifier, entry] of Object.entries(ENTRIES)) {
    it(`${specifier} (${entry.source.slice(3).replace(/\.js$/, '.ts')}) exports exactly the pinned names`, async () => {
      const exported = Object.keys(await import(entry.source)).sort();
      assert.deepEqual(exported, sorted(entry.names));
    });
  }

  it('every pinned list is sorted, so a diff shows what changed', () => {
    for (const entry of Object.values(ENTRIES)) assert.deepEqual(entry.names, sorted(entry.names));
  });

  it(`the root exports at most ${ROOT_CAP} runtime values`, () => {
    assert.ok(ENTRIES.b24kit!.names.length <= ROOT_CAP, `b24kit exports ${ENTRIES.b24kit!.names.length}: move lower layers to a subpath`);
  });

  it('package.json "exports" maps each entry to a types file and a module in dist/', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, { types: string; default: string } | string> };
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');
    assert.deepEqual(sorted(subpaths), sorted(Object.keys(ENTRIES).map((specifier) => specifier.replace(/^b24kit/, '.'))));
    for (const [specifier, entry] of Object.entries(ENTRIES)) {
      const target = pkg.exports[specifier.replace(/^b24kit/, '.')];
      assert.ok(typeof target === 'object', `${specifier}: { types, default }`);
      const built = entry.source.replace('../src/', './dist/');
      assert.equal(target.default, built, `${specifier} → the build of ${entry.source}`);
      assert.equal(target.types, built.replace(/\.js$/, '.d.ts'));
    }
  });

  it('each entry resolves through package.json "exports" to the built dist/', async () => {
    if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
      assert.fail('dist/index.js is missing: run `npm run build` (npm ci runs it through `prepare`)');
    }
    // a child process in the repo root: the package resolves itself by name, as a user's script would
    const script = `const names = {};
for (const specifier of ${JSON.stringify(Object.keys(ENTRIES))}) names[specifier] = Object.keys(await import(specifier)).sort();
console.log(JSON.stringify(names));`;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, timeout: 30_000 });
    const names = JSON.parse(stdout) as Record<string, string[]>;
    for (const [specifier, entry] of Object.entries(ENTRIES)) {
      assert.deepEqual(names[specifier], sorted(entry.names), `dist/ differs from ${entry.source} for ${specifier}: run \`npm run build\``);
      const types = new URL(entry.source.replace('../src/', '../dist/').replace(/\.js$/, '.d.ts'), import.meta.url);
      assert.ok(existsSync(types), `${specifier}: ${fileURLToPath(types)} is missing`);
    }
  });

  it('importing b24kit loads no emulator module (a production app never does)', async () => {
    const loaded = await modulesLoadedBy(ENTRIES.b24kit!.source.replace(/\.js$/, '.ts'));
    assert.ok(loaded.some((url) => url.endsWith('/src/app/create-app.ts')), 'the hook saw the app load');
    assert.deepEqual(loaded.filter((url) => url.includes('/src/emulator/')), []);
  });

  for (const specifier of ['b24kit/store', 'b24kit/rest', 'b24kit/integrations']) {
    it(`importing ${specifier} loads no emulator module`, async () => {
      const loaded = await modulesLoadedBy(ENTRIES[specifier]!.source.replace(/\.js$/, '.ts'));
      assert.deepEqual(loaded.filter((url) => url.includes('/src/emulator/')), []);
    });
  }
});
