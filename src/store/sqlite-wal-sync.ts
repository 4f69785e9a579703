/**
 * fsync of the WAL off the event loop. With `synchronous=FULL` SQLite fsyncs the WAL inside
 * COMMIT, and better-sqlite3 runs COMMIT on the main thread: for the length of every fsync no
 * request is parsed and no answer is written. Here the connection commits at `synchronous=NORMAL`
 * (the frames are written to the WAL, not yet synced) and the store then waits for an
 * `fdatasync` of the WAL file on libuv's thread pool before the transaction resolves. What a
 * caller saw resolve — and so every event answered 200 — is on disk, as with FULL:
 *
 * - the frames of a commit are written (write(2)) before COMMIT returns, and `fdatasync` of the
 *   file (any descriptor of it: the call flushes the file, not the descriptor) after that returns
 *   flushes them, the file size included;
 * - the WAL header written when the WAL restarts from its start is fsynced by SQLite itself at
 *   NORMAL (only OFF skips it), and checkpoints fsync the WAL before copying it;
 * - after a power loss, recovery replays the WAL up to its last whole commit: every synced one.
 *
 * Commits share fsyncs (group commit across transactions): a transaction that committed while an
 * fsync was running waits for the next one, which starts when that one ends and covers every commit
 * made meanwhile. What is NOT the same as FULL: for the duration of that fsync another connection
 * can already read the commit (a worker may claim the job a moment before the event is acknowledged;
 * if the power fails in that moment the event was never acknowledged either).
 */
import { open, type FileHandle } from 'node:fs/promises';

export class WalSync {
  readonly #walPath: string;
  #handle: Promise<FileHandle> | undefined;
  /** The fsync running now. */
  #running: Promise<void> | undefined;
  /** The fsync that starts when the running one ends (shared by everyone who asked meanwhile). */
  #next: Promise<void> | undefined;
  #syncs = 0;

  constructor(databaseFile: string) {
    this.#walPath = `${databaseFile}-wal`;
  }

  /** fsyncs started so far. */
  get syncs(): number {
    return this.#syncs;
  }

  /** Resolves after an fsync of the WAL that started after this call. */
  afterNow(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const next = this.#running.then(
      () => this.#start(),
      () => this.#start(),
    );
    this.#next = next;
    return next;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#running, this.#next]);
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close().catch(() => undefined);
  }

  #start(): Promise<void> {
    this.#next = undefined;
    this.#syncs += 1;
    // the WAL exists once a commit wrote it, and stays while this store's connection is open
    const running = (async () => {
      this.#handle ??= open(this.#walPath, 'r+');
      try {
        await (await this.#handle).datasync();
      } catch (error) {
        // no WAL file yet: nothing was ever committed into it (a statement that only might write,
        // such as a PRAGMA, asked), so there is nothing to make durable
        if ((error as { code?: unknown }).code === 'ENOENT') {
          this.#handle = undefined;
          return;
        }
        // a failed open or sync: the next commit opens the file again
        const failed = this.#handle;
        this.#handle = undefined;
        void failed?.then((handle) => handle.close()).catch(() => undefined);
        throw error;
      }
    })();
    this.#running = running;
    void running.then(
      () => this.#clear(running),
      () => this.#clear(running),
    );
    return running;
  }

  #clear(running: Promise<void>): void {
    if (this.#running === running) this.#running = undefined;
  }
}
