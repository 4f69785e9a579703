import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * The public surface: every runtime value src/index.ts exports, sorted. Adding or removing an
 * export is a decision about the API; make it here on purpose. (Types vanish at runtime and are
 * guarded by `npm run typecheck`.)
 */
const PUBLIC_EXPORTS = [
  'B24App',
  'B24Client',
  'B24Error',
  'DEFAULT_LIMITS',
  'ENTERPRISE_BUCKET',
  'ENTERPRISE_LIMITS',
  'ERROR_CODES',
  'Emulator',
  'InMemoryBucketStore',
  'NonRetryableError',
  'OperatingTracker',
  'PortalRegistry',
  'PortalTokenService',
  'REALISTIC_COST',
  'RateLimiter',
  'STANDARD_BUCKET',
  'StaticTokenProvider',
  'StoreBucketStateStore',
  'WebhookProvider',
  'ZERO_COST',
  'bucketLimitsForLicense',
  'buildEmulatorServer',
  'createApp',
  'createPortalTokenProvider',
  'createSecretBox',
  'createStoreRateLimiter',
  'createTokenClient',
  'isUniqueViolation',
  'loadConfig',
  'openStore',
  'parseSecretKey',
  'refreshIdlePortals',
  'resolveSecretKey',
  'safeEqual',
  'startEmulator',
];

describe('public exports', () => {
  it('src/index.ts exports exactly the pinned names', async () => {
    const exported = Object.keys(await import('../src/index.js')).sort();
    assert.deepEqual(exported, [...PUBLIC_EXPORTS].sort());
  });

  it("the pinned list is sorted, so a diff shows what changed", () => {
    assert.deepEqual(PUBLIC_EXPORTS, [...PUBLIC_EXPORTS].sort());
  });

  it("import('b24kit') resolves through package.json \"exports\" to the built dist/", async () => {
    if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
      assert.fail('dist/index.js is missing: run `npm run build` (npm ci runs it through `prepare`)');
    }
    // a child process in the repo root: the package resolves itself by name, as a user's script would
    const script = "import('b24kit').then((m) => console.log(JSON.stringify({ startEmulator: typeof m.startEmulator, names: Object.keys(m).sort() })))";
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, timeout: 30_000 });
    const answer = JSON.parse(stdout) as { startEmulator: string; names: string[] };
    assert.equal(answer.startEmulator, 'function');
    assert.deepEqual(answer.names, [...PUBLIC_EXPORTS].sort(), 'dist/ differs from src/index.ts: run `npm run build`');
  });
});
