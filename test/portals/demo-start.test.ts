/**
 * `b24kit start` with no B24_CLIENT_ID (what `npm start` runs): an in-process emulator, the web
 * server, the demo portal installed through our own /install, one REST call, and a clean exit on
 * SIGTERM. Runs the CLI from source (src/cli/run.ts), as bin/b24kit.js runs dist/.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

function demoEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', B24KIT_DEMO_EMULATOR_PORT: '0', DATABASE_URL: path.join(dir, 'b24kit.sqlite'), B24KIT_DATA_DIR: dir, LOG_LEVEL: 'info', B24KIT_LOG_FORMAT: 'json' };
  for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL', 'B24KIT_SECRET_KEY', 'B24KIT_ADMIN_TOKEN']) delete env[name];
  return env;
}

describe('npm start in demo mode', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-demo-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the emulator and the app, installs the demo portal, answers /health, and exits 0 on SIGTERM', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'start'], { cwd: repoRoot, env: demoEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = new Promise<{ url: string; demo: Record<string, unknown> }>((resolve, reject) => {
      let url: string | undefined;
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        lines.push(entry);
        if (typeof entry.msg === 'string' && entry.msg.startsWith('b24kit listening on')) url = String(entry.url);
        if (typeof entry.msg === 'string' && entry.msg.startsWith('DEMO MODE') && url) resolve({ url, demo: entry.banner as Record<string, unknown> });
      });
      child!.once('exit', (code) => reject(new Error(`b24kit start exited early (${code}): ${stderr}`)));
    });
    const timeout = setTimeout(() => child?.kill('SIGKILL'), 30_000);
    const { url, demo } = await ready;

    const banners = lines.filter((entry) => String(entry.msg).startsWith('DEMO MODE — no B24_CLIENT_ID set'));
    assert.equal(banners.length, 1, 'demo mode says so plainly, once');
    assert.equal(banners[0]!.level, 30, 'at info level: demo mode is not a problem');
    assert.match(String(banners[0]!.msg), /^ {2}emulator {3}http:\/\/127\.0\.0\.1:\d+ /m);
    assert.ok(lines.some((entry) => String(entry.msg).startsWith('demo REST call works: user.current')), 'one REST call proves the install');
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/ready`)).status, 200);

    // the registry (read by another process through the CLI) holds the demo portal, without tokens
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'portals', 'list', '--json'], { cwd: repoRoot, env: demoEnv(dir) });
    const portals = JSON.parse(stdout) as Array<{ memberId: string; state: string; domain: string }>;
    assert.deepEqual(portals.map((p) => [p.memberId, p.state, p.domain]), [[demo.memberId, 'active', demo.domain]]);
    assert.ok(!/accessToken|refreshToken|applicationToken|"v1\./.test(stdout), 'no tokens printed');

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timeout);
    assert.equal(code, 0, stderr);
  });
});
