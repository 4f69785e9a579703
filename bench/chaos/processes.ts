/**
 * The chaos run's child processes: each a real `node` process (the CLI from source, or the
 * scheduler entry), its output appended to a log file, SIGKILLed and restarted on demand, and
 * restarted after an exit nobody asked for — what a supervisor (systemd, Kubernetes) does — with
 * that exit counted, because the run reports it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildSpec {
  name: string;
  /** Arguments after `node --import tsx`. */
  args: string[];
  env: Record<string, string>;
  logFile: string;
}

export class SupervisedChild {
  readonly spec: ChildSpec;
  #child: ChildProcess | undefined;
  #expectingExit = false;
  #stopped = false;
  /** Exits nobody asked for (crashes), with their code or signal. */
  readonly unexpectedExits: string[] = [];
  kills = 0;
  starts = 0;

  constructor(spec: ChildSpec) {
    this.spec = spec;
  }

  start(): void {
    const fd = openSync(this.spec.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', ...this.spec.args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.starts += 1;
    this.#child = child;
    this.#expectingExit = false;
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      if (this.#expectingExit || this.#stopped) return;
      this.unexpectedExits.push(`${signal ?? `code ${code}`}${lastFailure(this.spec.logFile)}`);
      setTimeout(() => {
        if (!this.#stopped && !this.#child) this.start();
      }, 500).unref();
    });
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** SIGKILL, wait for the exit, start again. */
  async killAndRestart(): Promise<void> {
    await this.#signal('SIGKILL');
    this.kills += 1;
    if (!this.#stopped) this.start();
  }

  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (!child) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#signal('SIGTERM');
    clearTimeout(timer);
  }

  #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return Promise.resolve();
    this.#expectingExit = true;
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

/** The CLI from source, as `b24kit <args>` would run it. */
export function cliArgs(...args: string[]): string[] {
  return [path.join(REPO_ROOT, 'src/cli/run.ts'), ...args];
}

/** The last line of a log that says why a process failed (an error-level entry, or the CLI's `b24kit: CODE: …`), for the report. */
function lastFailure(logFile: string): string {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8').slice(-20_000);
  } catch {
    return '';
  }
  const line = text.split('\n').reverse().find((candidate) => /"level":(50|60)|^b24kit: /.test(candidate));
  return line ? `: ${line.slice(0, 400)}` : '';
}
