/**
 * Group commit: the writes made while one microtask queue drains share one SQLite transaction.
 *
 * The first write opens an IMMEDIATE transaction and queues a microtask that commits it once the
 * writes stop coming (see #settle). Every write made before then (the other requests of one IPC
 * read, several transfers reporting progress together, a burst of API calls from concurrent
 * callers) joins the same transaction, so N writers pay for one commit instead of N. A commit cost ~26 µs of the ~90 µs of
 * a Resume (bench case 5); batched 16 to a commit it is ~2 µs each.
 *
 * Atomicity per call is kept: each run() is a SAVEPOINT inside the batch, so a call that throws
 * undoes its own writes and nothing else. Durability per call is kept too: a caller's `await`
 * continuation is queued after the commit microtask (which was queued during the write, before
 * the caller's promise settled), and the API awaits committed() before it answers, so nobody is
 * told "done" before the write is committed, and a commit that fails (a full disk) is reported to
 * the calls whose writes it carried. Effects that must follow the commit (events, waking the
 * scheduler, aborting transfers) are registered with afterCommit() and dropped if it fails.
 *
 * A sequential caller gains nothing (each of its calls still waits for its own commit); callers
 * that overlap do.
 */
import type Database from 'better-sqlite3';
import { BitsError } from '../shared/errors.js';

/** Microtasks without a write after which a batch commits (see #settle). */
const QUIET_HOPS = 4;

interface Batch {
  readonly after: Array<() => void>;
  /** The write count when the commit microtask last looked, and how many looks found it unchanged (see #settle). */
  seen: number;
  quiet: number;
  /** What made SQLite roll the whole transaction back under a write, if something did. */
  lost: unknown;
  outcome: { ok: true } | { ok: false; error: BitsError } | null;
  waiters: Array<{ resolve: () => void; reject: (err: BitsError) => void }>;
}

export interface GroupCommitHooks {
  /** A batch committed: count it. */
  readonly committed: () => void;
  /** A batch was rolled back as a whole: in-memory mirrors of the store must be rebuilt. */
  readonly lost: (error: BitsError) => void;
  /** An afterCommit callback threw: report it (effects must not break the commit path). */
  readonly callbackFailed: (err: unknown) => void;
}

export class GroupCommit {
  readonly #db: Database.Database;
  readonly #hooks: GroupCommitHooks;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  readonly #savepoint: Database.Statement;
  readonly #release: Database.Statement;
  readonly #rollbackTo: Database.Statement;
  /** The batch being filled, if any. */
  #open: Batch | null = null;
  /** The most recent batch, open or finished: what committed() reports on. */
  #last: Batch | null = null;
  /** Writes joined so far (never reset): how #settle sees whether writers are still coming. */
  #writes = 0;

  constructor(db: Database.Database, hooks: GroupCommitHooks) {
    this.#db = db;
    this.#hooks = hooks;
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#savepoint = db.prepare('SAVEPOINT call');
    this.#release = db.prepare('RELEASE call');
    this.#rollbackTo = db.prepare('ROLLBACK TO call');
  }

  /** Makes sure the writes that follow land in an open batch. */
  join(): void {
    this.#writes++;
    const open = this.#open;
    if (open !== null) {
      if (this.#db.inTransaction) return;
      // SQLite rolled the whole transaction back under an earlier write (SQLITE_FULL, IOERR, ...).
      this.#finishLost(open);
    }
    this.#begin.run();
    const batch: Batch = { after: [], seen: this.#writes, quiet: 0, lost: undefined, outcome: null, waiters: [] };
    this.#open = batch;
    this.#last = batch;
    queueMicrotask(() => this.#settle(batch));
  }

  /** Runs `fn` atomically inside the open batch (a SAVEPOINT): all of its writes land, or none. */
  run<T>(fn: () => T): T {
    this.join();
    this.#savepoint.run();
    try {
      const result = fn();
      if (result instanceof Promise) throw new TypeError('A store transaction cannot be asynchronous.');
      this.#release.run();
      return result;
    } catch (err) {
      if (this.#db.inTransaction) {
        this.#rollbackTo.run();
        this.#release.run();
      } else if (this.#open !== null) {
        this.#open.lost ??= err;
      }
      throw err;
    }
  }

  /** Runs `callback` once the writes made so far are committed (at once when none are pending). */
  afterCommit(callback: () => void): void {
    if (this.#open === null) this.#safely(callback);
    else this.#open.after.push(callback);
  }

  /** Settles when the most recent batch is committed; rejects with a BitsError if it was not. */
  committed(): Promise<void> {
    const batch = this.#last;
    if (batch === null || batch.outcome?.ok === true) return Promise.resolve();
    if (batch.outcome !== null) return Promise.reject(batch.outcome.error);
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** Commits the open batch now (before the database closes). */
  flush(): void {
    if (this.#open !== null) this.#finish(this.#open);
  }

  get pending(): boolean {
    return this.#open !== null;
  }

  /**
   * Commits once QUIET_HOPS microtasks in a row went by with no new write. Concurrent callers
   * take a few microtask hops (their awaits: an API call, then the IPC dispatch around it)
   * before they write, and a commit on the first hop would catch only the first of them. Writers
   * waiting for this commit write nothing meanwhile, so this ends as soon as every caller in
   * flight is waiting or done; a lone caller pays QUIET_HOPS microtasks (well under a µs).
   */
  #settle(batch: Batch): void {
    if (this.#open !== batch) return;
    if (batch.seen !== this.#writes) {
      batch.seen = this.#writes;
      batch.quiet = 0;
    } else {
      batch.quiet++;
    }
    if (batch.quiet < QUIET_HOPS) {
      queueMicrotask(() => this.#settle(batch));
      return;
    }
    this.#finish(batch);
  }

  #finish(batch: Batch): void {
    if (this.#open !== batch) return;
    if (!this.#db.inTransaction) {
      this.#finishLost(batch);
      return;
    }
    try {
      this.#commit.run();
    } catch (err) {
      if (this.#db.inTransaction) this.#rollback.run();
      batch.lost ??= err;
      this.#finishLost(batch);
      return;
    }
    this.#open = null;
    batch.outcome = { ok: true };
    this.#hooks.committed();
    for (const w of batch.waiters.splice(0)) w.resolve();
    for (const callback of batch.after.splice(0)) this.#safely(callback);
  }

  #finishLost(batch: Batch): void {
    if (this.#open === batch) this.#open = null;
    const error = storeWriteError(batch.lost);
    batch.outcome = { ok: false, error };
    batch.after.length = 0;
    for (const w of batch.waiters.splice(0)) w.reject(error);
    this.#hooks.lost(error);
  }

  #safely(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.#hooks.callbackFailed(err);
    }
  }
}

/** The BitsError a failed commit is reported as: a full disk by name, anything else as E_FAIL. */
export function storeWriteError(cause: unknown): BitsError {
  if (cause instanceof BitsError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? cause.message : String(cause ?? 'rolled back');
  if (code === 'SQLITE_FULL') {
    return new BitsError('ERROR_DISK_FULL', `The job database could not be written (${detail}); free disk space and retry.`, { cause });
  }
  return new BitsError('E_FAIL', `The job database could not be written (${detail}); nothing of this call was saved.`, { cause });
}
