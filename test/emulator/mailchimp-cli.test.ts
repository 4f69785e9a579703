import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAILCHIMP_API_KEY } from '../../src/emulator/mailchimp/mailchimp-emulator.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('b24kit emulator --mailchimp-port', () => {
  it('runs both emulators on one clock and stops both on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'emulator', '--port', '0', '--mailchimp-port', '0'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    try {
      const [bitrix, mailchimp] = await new Promise<[string, string]>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error(`no URLs printed in 20 s; stdout: ${stdout} stderr: ${stderr}`)), 20_000);
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          stdout += text;
          const b24 = stdout.match(/Bitrix24 emulator listening on (http:\/\/\S+)/)?.[1];
          const mc = stdout.match(/Mailchimp emulator listening on (http:\/\/\S+)/)?.[1];
          if (b24 && mc) {
            clearTimeout(timer);
            resolve([b24, mc]);
          }
        });
        child.once('exit', () => reject(new Error(`exited before listening; stderr: ${stderr}`)));
      });
      const ping = await fetch(`${mailchimp}/3.0/ping`, { headers: { authorization: `Basic ${Buffer.from(`any:${DEFAULT_MAILCHIMP_API_KEY}`).toString('base64')}` } });
      assert.equal(ping.status, 200);
      await fetch(`${bitrix}/_emulator/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: 3600 }) });
      const clock = (await (await fetch(`${mailchimp}/_emulator/mailchimp/clock`)).json()) as { offsetSeconds: number };
      assert.equal(clock.offsetSeconds, 3600);
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await exited;
    assert.equal(signal, null, `stderr: ${stderr}`);
    assert.equal(code, 0, `stderr: ${stderr}`);
  });
});
