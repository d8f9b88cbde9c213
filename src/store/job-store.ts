/**
 * The persistent job queue: the only module of bitsd that imports better-sqlite3 (with
 * open-database.ts, diagnostics.ts and its helpers beside it), and private to src/queue.
 *
 * Every method is synchronous (better-sqlite3 is) and small. Writes are named by what they
 * record (writeTransition, recordFileProgress, markFileDelivered, ...); callers group them with
 * `transaction()` so that a state change and what it implies land together or not at all.
 */
import type Database from 'better-sqlite3';
import type { BitsError } from '../shared/errors.js';
import type { AuthScheme, AuthTarget, Credentials, FileIdentity, JobType } from '../job/types.js';
import type { FileProgressPatch, FilePatch, FileRecord, JobPatch, JobRecord, ReplyProgressPatch } from '../job/records.js';
import { type AppliedMigration, appliedMigrations, pragmas, schemaSql, type StorePragmas } from './diagnostics.js';
import { GroupCommit } from './group-commit.js';
import { openDatabase, type OpenStoreOptions } from './open-database.js';
import { RawRows } from './raw-rows.js';
import { StatementCache } from './statement-cache.js';
import { fallBackToSyncedOffsets } from './synced-offsets.js';
import { fileFromRow, fileToRow, jobFromRow, jobToRow, AGGREGATE_SQL, FINAL_STATES_SQL as FINAL, type JobWithAggregate, type SqlRow, splitAggregate, type WriteStats } from './records.js';

export type { JobAggregate, JobWithAggregate, WriteStats } from './records.js';

export { DATABASE_FILE, type OpenStoreOptions } from './open-database.js';

export class JobStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #cache: StatementCache;
  readonly #stmts: Statements;
  readonly #group: GroupCommit;
  #statements = 0;
  #commits = 0;
  /** Told when a batch of writes was rolled back as a whole (see onBatchLost). */
  #lostListeners: Array<(error: BitsError) => void> = [];

  private constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.path = path;
    this.#group = new GroupCommit(db, {
      committed: () => this.#commits++,
      lost: (error) => {
        for (const listener of this.#lostListeners) listener(error);
      },
      callbackFailed: (err) => queueMicrotask(() => {
        throw err;
      }),
    });
    this.#stmts = prepareStatements(db);
    this.#cache = new StatementCache(db);
  }

  /** Opens (creating if needed) the database in `dataDir`, with owner-only permissions, migrated. */
  static open(options: OpenStoreOptions): JobStore {
    const { db, path } = openDatabase(options);
    return new JobStore(db, path);
  }

  close(): void {
    if (!this.#db.open) return;
    this.#group.flush();
    this.#db.close();
  }

  // Diagnostics, for tests and support (diagnostics.ts).
  appliedMigrations(): AppliedMigration[] {
    return appliedMigrations(this.#db);
  }

  schemaSql(): string {
    return schemaSql(this.#db);
  }

  userVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  pragmas(): StorePragmas {
    return pragmas(this.#db);
  }

  /**
   * Runs `fn` atomically: all of its writes land, or none. Writes are group-committed (see
   * group-commit.ts): they are visible to this store at once and committed when the current
   * microtask queue drains; await committed() before telling anyone they are durable.
   */
  transaction<T>(fn: () => T): T {
    return this.#group.run(fn);
  }

  /** Settles once the writes made so far are committed; rejects (BitsError) if they were rolled back. */
  committed(): Promise<void> {
    return this.#group.committed();
  }

  /** Runs `callback` after the writes made so far are committed (dropped if they are rolled back). */
  afterCommit(callback: () => void): void {
    this.#group.afterCommit(callback);
  }

  /** Registers a listener for a batch of writes rolled back as a whole (a full disk at COMMIT). */
  onBatchLost(listener: (error: BitsError) => void): void {
    this.#lostListeners.push(listener);
  }

  writeStats(): WriteStats {
    return { statements: this.#statements, commits: this.#commits };
  }

  /** Every write joins the open batch (opening one if needed) before it runs. */
  #write(): void {
    this.#group.join();
    this.#statements++;
  }

  // ---- jobs ----------------------------------------------------------------------------------

  insertJob(job: JobRecord): void {
    const row = jobToRow(job);
    const cols = Object.keys(row);
    this.#write();
    // Positional parameters: binding ~60 named ones cost ~9 µs more per insert (bench case 5).
    this.#cache.get(`insert:${cols.join(',')}`, () =>
      `INSERT INTO jobs (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    ).run(Object.values(row));
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.#stmts.getJob.get(id);
    return row ? jobFromRow(row) : undefined;
  }

  getJobType(id: string): JobType | undefined {
    return this.#stmts.getJobType.get(id)?.type;
  }

  getJobWithAggregate(id: string): JobWithAggregate | undefined {
    const row = this.#stmts.getJobAgg.get(id);
    return row ? splitAggregate(row) : undefined;
  }

  /** Jobs not yet final, oldest first (by owner), without reading their rows or totals. */
  listLiveJobIds(owner?: string): string[] {
    const rows = owner === undefined ? this.#stmts.listLiveIds.all() : this.#stmts.listLiveIdsByOwner.all(owner);
    return rows.map((r) => r.id);
  }

  countLiveJobsByOwner(): Map<string, number> {
    return new Map(this.#stmts.countLiveByOwner.all().map((r) => [r.owner, r.n]));
  }

  /** The funnel's write: a transition's columns (state, timers, error, ...) and any set with it. */
  writeTransition(id: string, patch: JobPatch): void {
    this.#updateJob(id, patch);
  }

  #updateJob(id: string, patch: JobPatch): void {
    const row = jobToRow(patch);
    const cols = Object.keys(row);
    if (cols.length === 0) return;
    this.#write();
    this.#cache.get(`update-job:${cols.join(',')}`, () =>
      `UPDATE jobs SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
    ).run(...Object.values(row), id);
  }

  /** Removes final jobs that reached their final state before `before` (and owe no Cancel-Session). */
  purgeFinalJobs(before: number): number {
    this.#write();
    return this.#stmts.purgeFinal.run(before).changes;
  }

  // ---- files ---------------------------------------------------------------------------------

  getFiles(jobId: string): FileRecord[] {
    return this.#stmts.getFiles.all(jobId).map(fileFromRow);
  }

  getFile(jobId: string, index: number): FileRecord | undefined {
    const row = this.#stmts.getFile.get(jobId, index);
    return row ? fileFromRow(row) : undefined;
  }

  countFiles(jobId: string): number {
    return this.#stmts.countFiles.get(jobId)?.n ?? 0;
  }

  insertFile(file: FileRecord): void {
    this.#write();
    this.#stmts.insertFile.run(fileToRow(file));
  }

  /** Progress of one file; the job's modification time moves and its no-progress window closes. */
  recordFileProgress(jobId: string, index: number, patch: FileProgressPatch & Pick<FilePatch, 'bootId'>, now: number): void {
    this.#updateFile(jobId, index, patch);
    this.#updateJob(jobId, { modifiedAt: now, noProgressSince: null });
  }

  recordEngineState(jobId: string, index: number, engineState: Readonly<Record<string, unknown>>): void {
    this.#updateFile(jobId, index, { engineState });
  }

  recordTempIdentity(jobId: string, index: number, identity: FileIdentity): void {
    this.#updateFile(jobId, index, { tempIdentity: identity });
  }

  recordReplyTempIdentity(jobId: string, identity: FileIdentity): void {
    this.#updateJob(jobId, { replyTempIdentity: identity });
  }

  /** UPLOAD_REPLY: where the reply comes from and goes, and how far it got. */
  recordReplyProgress(jobId: string, reply: ReplyProgressPatch, now: number): void {
    this.#updateJob(jobId, { ...reply, modifiedAt: now, noProgressSince: null });
  }

  /** Start-up: progress recorded in another boot than `bootId` keeps its synced bytes only (synced-offsets.ts). */
  fallBackToSyncedOffsets(bootId: string): { files: number; replies: number } {
    this.#write();
    return fallBackToSyncedOffsets(this.#db, bootId);
  }

  /** Every byte of the file is transferred (`delivered`: uploads, which have nothing to move). */
  markFileTransferred(jobId: string, index: number, delivered: boolean, now: number): void {
    this.#updateFile(jobId, index, { transferred: true, completed: delivered });
    this.#updateJob(jobId, { modifiedAt: now, noProgressSince: null });
  }

  /** Complete moved the file to its local name. */
  markFileDelivered(jobId: string, index: number): void {
    this.#updateFile(jobId, index, { completed: true });
  }

  setRemoteName(jobId: string, index: number, remoteName: string): void {
    this.#updateFile(jobId, index, { remoteName });
  }

  /** The outcome of a Cancel-Session attempt: next try at `nextAt`, or settled when null. */
  recordCancelAttempt(jobId: string, outcome: { nextAt: number | null; attempts: number; lastError: string | null }): void {
    this.#updateJob(jobId, {
      cancelPending: outcome.nextAt !== null,
      cancelNextAt: outcome.nextAt,
      cancelAttempts: outcome.attempts,
      cancelLastError: outcome.lastError,
    });
  }

  #updateFile(jobId: string, index: number, patch: FilePatch): void {
    const row = fileToRow(patch);
    const cols = Object.keys(row);
    if (cols.length === 0) return;
    this.#write();
    this.#cache.get(`update-file:${cols.join(',')}`, () =>
      `UPDATE files SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE job_id = ? AND idx = ?`,
    ).run(...Object.values(row), jobId, index);
  }

  // ---- credentials ---------------------------------------------------------------------------

  getCredentials(jobId: string): Credentials[] {
    return this.#stmts.getCredentials.all(jobId).map((r) => ({
      target: r.target as AuthTarget,
      scheme: r.scheme as AuthScheme,
      userName: r.user_name === null ? null : String(r.user_name),
      password: r.password === null ? null : String(r.password),
    }));
  }

  setCredential(jobId: string, c: Credentials): void {
    this.#write();
    this.#stmts.upsertCredential.run(jobId, c.target, c.scheme, c.userName, c.password);
  }

  removeCredential(jobId: string, target: AuthTarget, scheme: AuthScheme): void {
    this.#write();
    this.#stmts.deleteCredential.run(jobId, target, scheme);
  }

  // ---- scheduler queries ---------------------------------------------------------------------

  /** The first QUEUED job of a priority level (0 FOREGROUND .. 3 LOW), by queue order. */
  nextQueued(priority: number): string | undefined {
    return this.#stmts.nextQueued.get(priority)?.id;
  }

  queuedAtLevel(priority: number, limit: number): string[] {
    return this.#stmts.queuedAtLevel.all(priority, limit).map((r) => r.id);
  }

  maxQueueSeq(): number {
    return this.#stmts.maxQueueSeq.get()?.m ?? 0;
  }

  earliestRetryAt(): number | null {
    return this.#stmts.earliestRetry.get()?.at ?? null;
  }

  dueRetries(now: number): string[] {
    return this.#stmts.dueRetries.all(now).map((r) => r.id);
  }

  /** The first `limit` Cancel-Session debts by next attempt time. */
  nextCancels(limit: number): Array<{ id: string; at: number }> {
    return this.#stmts.nextCancels.all(limit);
  }

  dueCancels(now: number): string[] {
    return this.#stmts.dueCancels.all(now).map((r) => r.id);
  }

  pendingCancels(): JobRecord[] {
    return this.#stmts.pendingCancels.all().map(jobFromRow);
  }

  /** Live jobs last changed at or before the time: a full scan, run by the hourly sweep only. */
  inactiveJobs(modifiedAtOrBefore: number): string[] {
    return this.#stmts.inactiveSince.all(modifiedAtOrBefore).map((r) => r.id);
  }

  /** Jobs whose committed Complete or Cancel still owes local-file work (see JobRecord.fileIntent). */
  jobsOwingFileWork(): string[] {
    return this.#stmts.owingFileWork.all().map((r) => r.id);
  }

  activeJobIds(): string[] {
    return this.#stmts.activeJobs.all().map((r) => r.id);
  }

  /** For the network gate: QUEUED (by level and line), blocked, retrying, retrying after a transport failure. */
  jobIds(which: 'queued' | 'blocked' | 'retrying' | 'transport-failures'): string[] {
    const stmts = { queued: this.#stmts.queuedJobs, blocked: this.#stmts.blockedJobs, retrying: this.#stmts.retryingJobs, 'transport-failures': this.#stmts.transportFailures };
    return stmts[which].all().map((r) => r.id);
  }

  /** QUEUED jobs ahead of this place in line among the levels `from`..`to` (1..3: background). */
  queuedAhead(from: number, to: number, priority: number, queueSeq: number): number {
    return this.#stmts.queuedAhead.get(from, to, priority, priority, queueSeq)?.n ?? 0;
  }
}

type SqlValue = SqlRow[string];

type Statements = ReturnType<typeof prepareStatements>;

/** The store's fixed SQL, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  // Typed through Database.Statement (a name the emitted declarations can use) rather than the
  // type better-sqlite3's prepare() infers.
  const prepare = <P extends unknown[], R = unknown>(sql: string): Database.Statement<P, R> => db.prepare<P, R>(sql);
  return {
    getJob: new RawRows(prepare<[string], SqlValue[]>('SELECT * FROM jobs WHERE id = ?')),
    getJobType: prepare<[string], { type: JobType }>('SELECT type FROM jobs WHERE id = ?'),
    getJobAgg: new RawRows(
      prepare<[string], SqlValue[]>(`SELECT j.*, ${AGGREGATE_SQL} FROM jobs j LEFT JOIN files f ON f.job_id = j.id WHERE j.id = ? GROUP BY j.id`),
    ),
    listLiveIds: prepare<[], { id: string }>(`SELECT id FROM jobs WHERE state NOT IN ${FINAL} ORDER BY created_at, rowid`),
    listLiveIdsByOwner: prepare<[string], { id: string }>(
      `SELECT id FROM jobs WHERE state NOT IN ${FINAL} AND owner = ? ORDER BY created_at, rowid`,
    ),
    countLiveByOwner: prepare<[], { owner: string; n: number }>(
      `SELECT owner, COUNT(*) AS n FROM jobs WHERE state NOT IN ${FINAL} GROUP BY owner`,
    ),
    getFiles: prepare<[string], SqlRow>('SELECT * FROM files WHERE job_id = ? ORDER BY idx'),
    getFile: prepare<[string, number], SqlRow>('SELECT * FROM files WHERE job_id = ? AND idx = ?'),
    countFiles: prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM files WHERE job_id = ?'),
    insertFile: prepare<[Record<string, unknown>], unknown>(
      `INSERT INTO files (job_id, idx, remote_name, local_name, temp_name, bytes_total, bytes_transferred, synced_bytes, boot_id, transferred, completed, ranges, engine_state)
       VALUES (@job_id, @idx, @remote_name, @local_name, @temp_name, @bytes_total, @bytes_transferred, @synced_bytes, @boot_id, @transferred, @completed, @ranges, @engine_state)`,
    ),
    getCredentials: prepare<[string], SqlRow>('SELECT target, scheme, user_name, password FROM credentials WHERE job_id = ? ORDER BY target, scheme'),
    upsertCredential: prepare<[string, string, string, string | null, string | null], unknown>(
      `INSERT INTO credentials (job_id, target, scheme, user_name, password) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job_id, target, scheme) DO UPDATE SET user_name = excluded.user_name, password = excluded.password`,
    ),
    deleteCredential: prepare<[string, string, string]>('DELETE FROM credentials WHERE job_id = ? AND target = ? AND scheme = ?'),
    nextQueued: prepare<[number], { id: string }>(
      "SELECT id FROM jobs WHERE state = 'QUEUED' AND priority = ? AND file_intent IS NULL ORDER BY queue_seq LIMIT 1",
    ),
    queuedAtLevel: prepare<[number, number], { id: string }>(
      "SELECT id FROM jobs WHERE state = 'QUEUED' AND priority = ? AND file_intent IS NULL ORDER BY queue_seq LIMIT ?",
    ),
    maxQueueSeq: prepare<[], { m: number | null }>('SELECT MAX(queue_seq) AS m FROM jobs'),
    earliestRetry: prepare<[], { at: number | null }>("SELECT MIN(retry_at) AS at FROM jobs WHERE state = 'TRANSIENT_ERROR'"),
    dueRetries: prepare<[number], { id: string }>("SELECT id FROM jobs WHERE state = 'TRANSIENT_ERROR' AND retry_at <= ? ORDER BY retry_at"),
    nextCancels: prepare<[number], { id: string; at: number }>('SELECT id, cancel_next_at AS at FROM jobs WHERE cancel_pending = 1 ORDER BY cancel_next_at LIMIT ?'),
    dueCancels: prepare<[number], { id: string }>('SELECT id FROM jobs WHERE cancel_pending = 1 AND cancel_next_at <= ? ORDER BY cancel_next_at'),
    pendingCancels: new RawRows(prepare<[], SqlValue[]>('SELECT * FROM jobs WHERE cancel_pending = 1 ORDER BY cancel_next_at')),
    inactiveSince: prepare<[number], { id: string }>(`SELECT id FROM jobs WHERE state NOT IN ${FINAL} AND modified_at <= ?`),
    owingFileWork: prepare<[], { id: string }>('SELECT id FROM jobs WHERE file_intent IS NOT NULL ORDER BY rowid'),
    activeJobs: prepare<[], { id: string }>("SELECT id FROM jobs WHERE state IN ('CONNECTING', 'TRANSFERRING')"),
    queuedJobs: prepare<[], { id: string }>("SELECT id FROM jobs WHERE state = 'QUEUED' AND file_intent IS NULL ORDER BY priority, queue_seq"),
    blockedJobs: prepare<[], { id: string }>("SELECT id FROM jobs WHERE state = 'TRANSIENT_ERROR' AND blocked_since IS NOT NULL ORDER BY priority, queue_seq"),
    retryingJobs: prepare<[], { id: string }>("SELECT id FROM jobs WHERE state = 'TRANSIENT_ERROR' AND blocked_since IS NULL"),
    transportFailures: prepare<[], { id: string }>("SELECT id FROM jobs WHERE state = 'TRANSIENT_ERROR' AND blocked_since IS NULL AND error_context = 'GENERAL_TRANSPORT'"),
    queuedAhead: prepare<[number, number, number, number, number], { n: number }>(
      "SELECT COUNT(*) AS n FROM jobs WHERE state = 'QUEUED' AND file_intent IS NULL AND priority BETWEEN ? AND ? AND (priority < ? OR (priority = ? AND queue_seq < ?))",
    ),
    purgeFinal: prepare<[number]>(`DELETE FROM jobs WHERE state IN ${FINAL} AND cancel_pending = 0 AND file_intent IS NULL AND final_at <= ?`),
  };
}
