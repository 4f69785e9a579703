/**
 * `npm start` in demo mode as a person sees it: in a terminal (a pseudo-terminal from util-linux
 * `script`), the logs are readable lines, not JSON; the demo banner appears once, at info level,
 * with the emulator's URL on its fixed port, the app's URL, the dashboard link with a demo token,
 * what happens next, and "Ctrl-C to stop"; and Ctrl-C — a ^C typed into the terminal, which the
 * terminal turns into SIGINT for the whole foreground group (npm, its shell, node) — exits 0.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Terminal output as text: colours and cursor moves removed, CRLF as LF. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n?/g, '\n');
}

describe('npm start in a terminal', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-tty-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints readable lines and the demo banner once, and exits 0 on Ctrl-C', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('util-linux `script` is not installed');
    if (!existsSync(path.join(repoRoot, 'dist/cli/main.js'))) assert.fail('dist/ is missing: run `npm run build` (npm ci runs it through `prepare`)');
    const emulatorPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      B24KIT_DEMO_EMULATOR_PORT: String(emulatorPort),
      DATABASE_URL: path.join(dir, 'b24kit.sqlite'),
      B24KIT_DATA_DIR: dir,
      LOG_LEVEL: 'info',
      npm_config_update_notifier: 'false',
      TERM: 'xterm',
    };
    for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL', 'B24KIT_SECRET_KEY', 'B24KIT_ADMIN_TOKEN', 'B24KIT_LOG_FORMAT', 'NO_COLOR']) delete env[name];
    // -e: script exits with the command's code; -f: flush as written; the command runs on the pty.
    // script runs it with `$SHELL -c` (/bin/sh when SHELL is unset, as in CI): `exec` makes npm the
    // pty's process, as when a person types `npm start` at a prompt (their interactive shell puts
    // npm in a foreground group of its own). Without it Debian's dash stays in the foreground
    // group, waiting, and dies of the Ctrl-C itself (exit 130) whatever the app does.
    child = spawn('script', ['-qefc', 'exec npm start', '/dev/null'], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const bannerShown = new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // the banner is one entry; wait for the line after it, so that it is whole
        if (/Ctrl-C to stop\.[^\n]*\n/.test(plain(output))) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`npm start exited early (${code}): ${plain(output)}`)));
    });
    const timeout = setTimeout(() => child?.kill('SIGKILL'), 60_000);
    await bannerShown;

    child.stdin!.write('\u0003'); // Ctrl-C, typed into the terminal
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timeout);
    const text = plain(output);
    assert.equal(code, 0, text);

    // readable lines: every log entry is `[HH:MM:SS.mmm] LEVEL: message`, none is a JSON object
    const entries = text.split('\n').filter((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] /.test(line));
    assert.ok(entries.length >= 5, text);
    assert.ok(!text.split('\n').some((line) => line.trimStart().startsWith('{"level"')), 'no JSON lines on a terminal');
    assert.ok(entries.every((line) => /^\[[\d:.]+\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): \S/.test(line)), entries.join('\n'));

    // the banner, once, at info level, saying what runs where and how to stop
    const banners = entries.filter((line) => line.includes('DEMO MODE'));
    assert.equal(banners.length, 1, text);
    assert.match(banners[0]!, /^\[[\d:.]+\] INFO: DEMO MODE — no B24_CLIENT_ID set/);
    const banner = text.slice(text.indexOf(banners[0]!), text.indexOf('Ctrl-C to stop.') + 'Ctrl-C to stop.'.length);
    assert.match(banner, new RegExp(`^ {2}emulator {3}http://127\\.0\\.0\\.1:${emulatorPort} `, 'm'));
    const app = /^ {2}app {8}(http:\/\/127\.0\.0\.1:\d+) /m.exec(banner);
    assert.ok(app, banner);
    const dashboard = /^ {2}dashboard {2}(\S+)\/admin#token=([A-Za-z0-9_-]{16,}) /m.exec(banner);
    assert.ok(dashboard, banner);
    assert.equal(dashboard[1], app[1], 'the dashboard is on the app');
    assert.match(banner, /^What happens next: every 3 s the emulator adds a contact/m);
    assert.equal(text.split(dashboard[2]!).length - 1, 1, 'the demo token is printed once, in the banner');

    // then the shutdown, logged as readable lines too
    assert.match(text, /INFO: shutting down \{"signal":"SIGINT"\}/);
    assert.match(text, /INFO: stopped\n/);
  });
});
