import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmulator } from '../src/emulator/server.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source (src/cli/run.ts) to completion. */
async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], {
      cwd: repoRoot,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('b24kit CLI', () => {
  it('b24kit --help lists the commands', async () => {
    const { code, stdout } = await cli('--help');
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: b24kit /m);
    assert.match(stdout, /^\s+emulator\b/m);
  });

  it('b24kit emulator --help documents every option', async () => {
    const { code, stdout } = await cli('emulator', '--help');
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: b24kit emulator /m);
    for (const option of ['--port', '--host', '--client-id', '--client-secret']) assert.ok(stdout.includes(option), option);
    assert.match(stdout, /local\.b24kit\.demo/);
    assert.match(stdout, /demo-secret/);
  });

  it('b24kit emulator --port abc exits non-zero and says what is wrong', async () => {
    const { code, stderr } = await cli('emulator', '--port', 'abc');
    assert.notEqual(code, 0);
    assert.match(stderr, /--port/);
    assert.match(stderr, /abc/);
    assert.match(stderr, /port number/);
  });

  it('b24kit emulator on a port in use exits 1 with one line, not a stack trace', async () => {
    const taken = await startEmulator({ port: 0 });
    try {
      const port = new URL(taken.url).port;
      const { code, stderr } = await cli('emulator', '--port', port);
      assert.equal(code, 1);
      assert.match(stderr, /EADDRINUSE/);
      assert.doesNotMatch(stderr, /\n\s+at /);
    } finally {
      await taken.close();
    }
  });

  it('b24kit emulator --port 0 prints the real URL, serves on it, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'emulator', '--port', '0'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error(`no URL printed in 20 s; stdout: ${stdout} stderr: ${stderr}`)), 20_000);
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          stdout += text;
          const match = stdout.match(/listening on (http:\/\/\S+)/);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.once('exit', () => reject(new Error(`exited before listening; stderr: ${stderr}`)));
      });
      const port = Number(new URL(url).port);
      assert.ok(port > 0, `a real port, not 0: ${url}`);
      const response = await fetch(`${url}/_emulator/portals`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), []);
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await exited;
    assert.equal(signal, null, `stderr: ${stderr}`);
    assert.equal(code, 0, `stderr: ${stderr}`);
  });

  it('bin/b24kit.js runs the built CLI', async (t) => {
    if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
      assert.fail('dist/ is missing: run `npm run build` (npm ci runs it through `prepare`)');
    }
    t.diagnostic('uses dist/, built by `npm run build`');
    const { stdout } = await execFileAsync(process.execPath, ['bin/b24kit.js', 'emulator', '--help'], { cwd: repoRoot, timeout: 30_000 });
    assert.match(stdout, /^Usage: b24kit emulator /m);
  });
});
