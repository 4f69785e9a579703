/**
 * A fixture script run as a real child process (`node --import tsx <script>`): it prints `ready`
 * when set up, then one JSON line with its result. Used where a test needs several processes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildWorker<R> {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the child printed `ready` (or already its result). */
  ready: Promise<void>;
  /** The child's JSON result line; rejects with its stderr tail if it exits first. */
  result: Promise<R>;
}

export function startChildWorker<R>(script: string, env: Record<string, string>): ChildWorker<R> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<R>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) resolve(JSON.parse(line) as R);
    });
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr.slice(-2000)}`)));
  });
  return { child, ready: Promise.race([ready, result.then(() => undefined)]), result };
}
