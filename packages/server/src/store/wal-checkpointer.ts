/**
 * WAL checkpoints on their own thread. A checkpoint copies the pages that commits appended to the
 * write-ahead log back into the database file and fsyncs both. SQLite's automatic checkpoint runs
 * it inside the commit that fills the log, so on the event loop, and most of its time is spent
 * waiting for the disk: in the store with 1,000 channels and 50-event commits, a checkpoint every
 * 2,000 events took 6-14 ms of wall time for 2-5 ms of CPU, and checkpoints were ~2/3 of what the
 * commits cost in all (9-20 µs/event inline, 5-8 µs/event with this thread, pinned to one CPU).
 *
 * The committing connection turns the automatic checkpoint off; a worker thread with its own
 * connection runs `wal_checkpoint(PASSIVE)` DELAY_MS after a commit (commits meanwhile join it).
 * PASSIVE never blocks the writer. The writer reuses the log from its start only when it finds it
 * all copied, which under a steady stream of commits it never does, so once the log is longer
 * than RESTART_BYTES the thread follows with a RESTART checkpoint: it copies the little written
 * since and holds the writer off only for that (or, finding a commit under way, returns at once
 * and tries again next time). If the log still passes MAX_WAL_BYTES the committing connection
 * checkpoints once itself; if the thread dies, it goes back to SQLite's automatic checkpoints.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** The log size at which the thread restarts it, in bytes (turned into frames of the file's page size). */
const RESTART_BYTES = 16 * 1024 * 1024;
/** The log size at which the committing connection checkpoints itself (the thread does not keep up), in bytes. */
const MAX_WAL_BYTES = 128 * 1024 * 1024;
/** How long after the first commit of a quiet spell the thread checkpoints: commits meanwhile join the same checkpoint. */
const DELAY_MS = 25;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = ' + workerData.sync);
let timer = null;
const run = () => {
  timer = null;
  try {
    let r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // The writer reuses the log from its start only if it finds it all copied, which under a
    // steady stream of commits it never does: once it is long, copy the little written since
    // and restart it, holding the writer off for that moment (or not at all: busy → next time).
    if (r.log > workerData.restartFrames) {
      const q = db.pragma('wal_checkpoint(RESTART)')[0];
      if (q.busy === 0) r = { log: 0 };
    }
    parentPort.postMessage({ log: r.log });
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
};
parentPort.on('message', (m) => {
  if (m === 'close') {
    if (timer) clearTimeout(timer);
    db.close();
    parentPort.close();
  } else if (timer === null) timer = setTimeout(run, workerData.delayMs);
});
`;

export interface WalCheckpointer {
  /** A commit appended to the log: checkpoint soon. */
  wrote(): void;
  /** Stop the thread (its connection closes first, so the caller's close is the last one). */
  close(): Promise<void>;
}

export interface CheckpointerHooks {
  /** Run one checkpoint on the committing connection (the thread fell behind). */
  checkpointHere(): void;
  /** The thread is gone (not closed): the committing connection checkpoints on its own from now on. */
  fallBack(): void;
  /** A checkpoint failed on the thread (the next one retries), or the thread failed. */
  onError?(message: string): void;
}

/**
 * Start the checkpoint thread for the database at `path` (its connection uses `sync`, as the
 * committing one); `pageSize` is the file's, so the log's bounds in frames follow it.
 */
export function startWalCheckpointer(path: string, sync: 'NORMAL' | 'FULL', pageSize: number, hooks: CheckpointerHooks): WalCheckpointer {
  const restartFrames = Math.max(1, Math.floor(RESTART_BYTES / pageSize));
  const maxWalFrames = Math.max(1, Math.floor(MAX_WAL_BYTES / pageSize));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path, sync, delayMs: DELAY_MS, restartFrames },
  });
  worker.unref();
  // One 'wrote' in flight at a time (a message per commit would wake the thread per commit:
  // ~0.3 µs/event more on one CPU). A commit while one is in flight, which the checkpoint may
  // have started without, asks again when the answer comes, so the last commits of a burst are
  // copied too. `alive` is false once the thread is gone or close() began: checkpointHere and
  // fallBack never run after that.
  let alive = true;
  let asked = false;
  let again = false;
  const ask = () => {
    asked = true;
    again = false;
    worker.postMessage('wrote');
  };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: { log?: number; error?: string }) => {
    if (!alive) return;
    asked = false;
    if (again) ask();
    if (m.error !== undefined) hooks.onError?.(m.error);
    else if (m.log !== undefined && m.log > maxWalFrames) hooks.checkpointHere();
  });
  worker.on('error', (e) => hooks.onError?.(e.message));
  worker.on('exit', () => {
    if (!alive) return; // closed
    alive = false;
    hooks.fallBack();
  });
  return {
    wrote() {
      if (!alive) return;
      if (asked) again = true;
      else ask();
    },
    async close() {
      if (alive) worker.postMessage('close');
      alive = false;
      // Held while it exits: unreferenced, a close that is the last thing a process does would
      // leave nothing keeping the event loop alive, and the process would end before the caller's
      // own close (the one that copies the log back and removes it) ran.
      worker.ref();
      await exited;
    },
  };
}
