/**
 * `npm start` (bin/b24kit.js start, from the built dist/) with no B24_CLIENT_ID: demo mode serves
 * /health and /metrics, demo events arrive over HTTP and their handler runs, and SIGTERM exits 0.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('npm start in demo mode processes demo events', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-npm-start-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /health, handles a demo event, exits 0 on SIGTERM', async () => {
    if (!existsSync(path.join(repoRoot, 'dist/cli/main.js'))) assert.fail('dist/ is missing: run `npm run build` (npm ci runs it through `prepare`)');
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', B24KIT_DEMO_EMULATOR_PORT: '0', DATABASE_URL: path.join(dir, 'b24kit.sqlite'), B24KIT_DATA_DIR: dir, LOG_LEVEL: 'info', B24KIT_LOG_FORMAT: 'json' };
    for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL', 'B24KIT_SECRET_KEY']) delete env[name];
    child = spawn(process.execPath, ['bin/b24kit.js', 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const messages: string[] = [];
    const handled = new Promise<string>((resolve, reject) => {
      let url: string | undefined;
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        let entry: { msg?: string; url?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        messages.push(String(entry.msg));
        if (entry.msg?.startsWith('b24kit listening on')) url = entry.url;
        if (entry.msg?.startsWith('demo event handled: ONCRMCONTACTADD') && url) resolve(url);
      });
      child!.once('exit', (code) => reject(new Error(`b24kit start exited early (${code}): ${stderr}`)));
    });
    const timeout = setTimeout(() => child?.kill('SIGKILL'), 45_000);
    const url = await handled;
    assert.ok(messages.some((msg) => msg.startsWith('DEMO MODE — no B24_CLIENT_ID set')), 'says it is demo mode');
    assert.ok(messages.some((msg) => msg.startsWith('demo: fired ONCRMCONTACTADD')), 'the trickle fired through the emulator');
    const health = await fetch(`${url}/health`);
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /b24kit_events_received_total\{event="ONCRMCONTACTADD",outcome="queued"\} [1-9]/);
    assert.match(metrics, /b24kit_portals\{state="active"\} 1/);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timeout);
    assert.equal(code, 0, stderr);
  });
});
