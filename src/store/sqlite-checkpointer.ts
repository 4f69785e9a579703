/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint (`wal_autocheckpoint`, every
 * 1,000 pages) runs inside the COMMIT that crosses the threshold, and better-sqlite3 runs a COMMIT on
 * the main thread: that one commit copies ~4 MB of pages into the database file and fsyncs it while
 * no request is served (13–15 ms per checkpoint here, several a second under ingest load:
 * bench/README.md, Ingest). Instead a worker thread with its own connection runs a PASSIVE
 * checkpoint every `intervalMs`: it copies what it can without waiting for (or blocking) the writer,
 * and the writer restarts the WAL from its start once everything was copied. Under a writer that
 * never pauses that moment never comes, so past `restartFrames` the worker runs a RESTART
 * checkpoint: new writers get SQLITE_BUSY for the few frames left (the store retries them
 * asynchronously, sqlite.ts) and the next write starts the WAL over.
 *
 * The main connection keeps an automatic checkpoint with a far higher threshold as a backstop (a
 * stalled or failed worker cannot let the WAL grow without bound); if the worker fails, the store
 * goes back to SQLite's default threshold.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker's code (CommonJS, run with `eval`: no file to find next to the compiled module). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// the checkpoint's fsyncs follow the connection doing it: the same setting as the writer's
db.pragma('synchronous = ' + workerData.synchronous);
// only this thread waits here (RESTART below), never the event loop of the writer
db.pragma('busy_timeout = 2000');
const timer = setInterval(() => {
  try {
    let [row] = db.pragma('wal_checkpoint(PASSIVE)');
    // a writer that never pauses never lets the WAL start over after a PASSIVE checkpoint: past
    // restartFrames, RESTART holds new writers back (they retry asynchronously) for the few frames
    // left, so that the next write starts the WAL from its beginning
    if (row && row.log >= workerData.restartFrames) [row] = db.pragma('wal_checkpoint(RESTART)');
    if (row && row.checkpointed > 0) parentPort.postMessage({ checkpointed: row.checkpointed, log: row.log });
  } catch (error) {
    clearInterval(timer);
    parentPort.postMessage({ failed: String(error && error.message) });
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  /** The database file (not `:memory:`). */
  file: string;
  /** The writer's `PRAGMA synchronous`. */
  synchronous: 'FULL' | 'NORMAL';
  /** @defaultValue 200 */
  intervalMs?: number;
  /** WAL frames (pages) past which a checkpoint also restarts the WAL. @defaultValue 4096 (~16 MB) */
  restartFrames?: number;
  /** Called once if the worker fails (the store then checkpoints inline again). */
  onFailure: (error: Error) => void;
}

/** A running background checkpointer; `stop()` closes its connection and ends the thread. */
export class WalCheckpointer {
  readonly #worker: Worker;
  #checkpoints = 0;
  #stopped: Promise<void> | undefined;
  #failed = false;
  readonly #exited: Promise<void>;

  constructor(options: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // plain CommonJS: none of the process's loaders (tsx under tests) to start in the thread
      execArgv: [],
      workerData: { driver, file: options.file, synchronous: options.synchronous, intervalMs: options.intervalMs ?? 200, restartFrames: options.restartFrames ?? 4096 },
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    // a store that was never closed must not keep the process alive
    this.#worker.unref();
    const fail = (error: Error) => {
      if (this.#failed) return;
      this.#failed = true;
      options.onFailure(error);
    };
    this.#worker.on('message', (message: { checkpointed?: number; failed?: string }) => {
      if (message.failed !== undefined) fail(new Error(`WAL checkpoint failed: ${message.failed}`));
      else this.#checkpoints += 1;
    });
    this.#worker.on('error', fail);
  }

  /** Checkpoints that copied at least one page, so far. */
  get checkpoints(): number {
    return this.#checkpoints;
  }

  stop(): Promise<void> {
    if (!this.#stopped) {
      // a worker that already ended (an error) ignores the message; its exit has happened
      this.#worker.ref(); // wait for its exit even when nothing else keeps the process alive
      this.#worker.postMessage('stop');
      this.#stopped = this.#exited;
    }
    return this.#stopped;
  }
}
