/**
 * Loaded into every `node --test` process (package.json scripts: `--import`). Each test file runs
 * in a child that streams its verdicts to the runner over stdout, a pipe; on Linux a pipe write is
 * asynchronous, and `--test-force-exit` calls `process.exit()` with frames still queued, so the
 * runner silently loses the last verdicts of a file and still exits 0 (nodejs/node#64833, seen on
 * Node 22 and 24; a fix is proposed in nodejs/node#64875). Making stdout blocking — what that fix
 * does — lets no frame be queued. Measured on Node 24.22: 4 files × 2,000 empty tests reported
 * 7,814–7,946 of 8,000 in 5 runs without this, 8,000 in 8 of 8 with it.
 */
interface BlockingHandle {
  setBlocking?: (blocking: boolean) => number;
}

const handle = (process.stdout as unknown as { _handle?: BlockingHandle })._handle;
if (typeof handle?.setBlocking === 'function') handle.setBlocking(true);
