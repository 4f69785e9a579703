/**
 * Runs the `b24kit` CLI from source (src/cli/run.ts) as a child process, the way a user runs the
 * installed one, and collects what it printed. A run killed by a signal rejects: an empty answer
 * must never pass for a successful one.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], options: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<CliRun> {
  // generous: other suites may load the machine
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], {
    cwd: repoRoot,
    env: options.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 120_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  if (options.input !== undefined) child.stdin?.end(options.input);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => (exitCode === null ? reject(new Error(`b24kit ${args.join(' ')} killed by ${signal}; stderr: ${stderr}`)) : resolve(exitCode)));
  });
  return { args, code, stdout, stderr };
}
