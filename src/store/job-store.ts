/**
 * The persistent job queue: the only module of bitsd that imports better-sqlite3.
 *
 * The database file lives in a data directory created 0700, the file itself 0600. WAL mode,
 * foreign keys on, a busy timeout so a second process waits instead of failing. Every method is
 * synchronous (better-sqlite3 is) and small; callers group writes with `transaction()` so that a
 * state change and what it implies land together or not at all.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BitsError } from '../shared/errors.js';
import type { AuthScheme, AuthTarget, Credentials, JobType } from '../job/types.js';
import { GroupCommit } from './group-commit.js';
import { defaultMigrationsDir, migrate, readMigrations } from './migrate.js';
import { RawRows } from './raw-rows.js';
import type { FilePatch, FileRecord, JobPatch, JobRecord } from '../job/records.js';
import { fileFromRow, fileToRow, jobFromRow, jobToRow, type SqlRow } from './records.js';

export const DATABASE_FILE = 'bitsd.sqlite';

export interface OpenStoreOptions {
  readonly dataDir: string;
  readonly now: number;
  readonly migrationsDir?: string;
  readonly busyTimeoutMs?: number;
}

export interface JobAggregate {
  readonly filesTotal: number;
  readonly filesTransferred: number;
  readonly bytesTransferred: number;
  /** -1 when any file's size is unknown. */
  readonly bytesTotal: number;
}

/** Writes issued through this store since it was opened (benchmarks report them per GiB). */
export interface WriteStats {
  /** INSERT/UPDATE/DELETE statements run. */
  readonly statements: number;
  /** SQLite transactions committed (one per group-commit batch, see group-commit.ts). */
  readonly commits: number;
}

export interface JobWithAggregate {
  readonly job: JobRecord;
  readonly aggregate: JobAggregate;
}

type SqlValue = SqlRow[string];

const FINAL = "('ACKNOWLEDGED', 'CANCELLED')";

const AGGREGATE_SQL = `
  COUNT(f.idx) AS files_total,
  COALESCE(SUM(f.transferred), 0) AS files_transferred,
  COALESCE(SUM(f.bytes_transferred), 0) AS bytes_transferred,
  CASE WHEN COUNT(f.idx) = 0 THEN 0 WHEN MIN(f.bytes_total) < 0 THEN -1 ELSE SUM(f.bytes_total) END AS bytes_total`;

function splitAggregate(row: SqlRow): JobWithAggregate {
  // jobFromRow reads only the job's columns: no copy of the row without the aggregate (a rest
  // spread of ~60 columns was most of this function's cost).
  return {
    job: jobFromRow(row),
    aggregate: {
      filesTotal: Number(row.files_total),
      filesTransferred: Number(row.files_transferred),
      bytesTransferred: Number(row.bytes_transferred),
      bytesTotal: Number(row.bytes_total),
    },
  };
}

export class JobStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #updateCache = new Map<string, Database.Statement>();
  readonly #stmts;
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
    this.#stmts = {
      getJob: new RawRows(db.prepare<[string], SqlValue[]>('SELECT * FROM jobs WHERE id = ?')),
      getJobType: db.prepare<[string], { type: JobType }>('SELECT type FROM jobs WHERE id = ?'),
      getJobAgg: new RawRows(
        db.prepare<[string], SqlValue[]>(`SELECT j.*, ${AGGREGATE_SQL} FROM jobs j LEFT JOIN files f ON f.job_id = j.id WHERE j.id = ? GROUP BY j.id`),
      ),
      listLive: new RawRows(
        db.prepare<[], SqlValue[]>(
          `SELECT j.*, ${AGGREGATE_SQL} FROM jobs j LEFT JOIN files f ON f.job_id = j.id
           WHERE j.state NOT IN ${FINAL} GROUP BY j.id ORDER BY j.created_at, j.rowid`,
        ),
      ),
      listLiveByOwner: new RawRows(
        db.prepare<[string], SqlValue[]>(
          `SELECT j.*, ${AGGREGATE_SQL} FROM jobs j LEFT JOIN files f ON f.job_id = j.id
           WHERE j.state NOT IN ${FINAL} AND j.owner = ? GROUP BY j.id ORDER BY j.created_at, j.rowid`,
        ),
      ),
      listLiveIds: db.prepare<[], { id: string }>(`SELECT id FROM jobs WHERE state NOT IN ${FINAL} ORDER BY created_at, rowid`),
      listLiveIdsByOwner: db.prepare<[string], { id: string }>(
        `SELECT id FROM jobs WHERE state NOT IN ${FINAL} AND owner = ? ORDER BY created_at, rowid`,
      ),
      countLiveByOwner: db.prepare<[], { owner: string; n: number }>(
        `SELECT owner, COUNT(*) AS n FROM jobs WHERE state NOT IN ${FINAL} GROUP BY owner`,
      ),
      deleteJob: db.prepare<[string]>('DELETE FROM jobs WHERE id = ?'),
      getFiles: db.prepare<[string], SqlRow>('SELECT * FROM files WHERE job_id = ? ORDER BY idx'),
      getFile: db.prepare<[string, number], SqlRow>('SELECT * FROM files WHERE job_id = ? AND idx = ?'),
      countFiles: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM files WHERE job_id = ?'),
      insertFile: db.prepare(
        `INSERT INTO files (job_id, idx, remote_name, local_name, temp_name, bytes_total, bytes_transferred, transferred, completed, ranges, engine_state)
         VALUES (@job_id, @idx, @remote_name, @local_name, @temp_name, @bytes_total, @bytes_transferred, @transferred, @completed, @ranges, @engine_state)`,
      ),
      getCredentials: db.prepare<[string], SqlRow>('SELECT target, scheme, user_name, password FROM credentials WHERE job_id = ? ORDER BY target, scheme'),
      upsertCredential: db.prepare(
        `INSERT INTO credentials (job_id, target, scheme, user_name, password) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (job_id, target, scheme) DO UPDATE SET user_name = excluded.user_name, password = excluded.password`,
      ),
      deleteCredential: db.prepare<[string, string, string]>('DELETE FROM credentials WHERE job_id = ? AND target = ? AND scheme = ?'),
      nextQueued: db.prepare<[number], { id: string }>(
        "SELECT id FROM jobs WHERE state = 'QUEUED' AND priority = ? ORDER BY queue_seq LIMIT 1",
      ),
      queuedAtLevel: db.prepare<[number, number], { id: string }>(
        "SELECT id FROM jobs WHERE state = 'QUEUED' AND priority = ? ORDER BY queue_seq LIMIT ?",
      ),
      hasQueuedAtOrAbove: db.prepare<[number], { one: number }>(
        "SELECT 1 AS one FROM jobs WHERE state = 'QUEUED' AND priority <= ? LIMIT 1",
      ),
      maxQueueSeq: db.prepare<[], { m: number | null }>('SELECT MAX(queue_seq) AS m FROM jobs'),
      earliestRetry: db.prepare<[], { at: number | null }>("SELECT MIN(retry_at) AS at FROM jobs WHERE state = 'TRANSIENT_ERROR'"),
      dueRetries: db.prepare<[number], { id: string }>("SELECT id FROM jobs WHERE state = 'TRANSIENT_ERROR' AND retry_at <= ? ORDER BY retry_at"),
      earliestCancel: db.prepare<[], { at: number | null }>('SELECT MIN(cancel_next_at) AS at FROM jobs WHERE cancel_pending = 1'),
      dueCancels: db.prepare<[number], { id: string }>('SELECT id FROM jobs WHERE cancel_pending = 1 AND cancel_next_at <= ? ORDER BY cancel_next_at'),
      pendingCancels: new RawRows(db.prepare<[], SqlValue[]>('SELECT * FROM jobs WHERE cancel_pending = 1 ORDER BY cancel_next_at')),
      inactiveSince: db.prepare<[number], { id: string }>(`SELECT id FROM jobs WHERE state NOT IN ${FINAL} AND modified_at <= ?`),
      activeJobs: db.prepare<[], { id: string }>("SELECT id FROM jobs WHERE state IN ('CONNECTING', 'TRANSFERRING')"),
      purgeFinal: db.prepare<[number]>(`DELETE FROM jobs WHERE state IN ${FINAL} AND cancel_pending = 0 AND final_at <= ?`),
    };
  }

  /** Opens (creating if needed) the database in `dataDir`, with owner-only permissions, migrated. */
  static open(options: OpenStoreOptions): JobStore {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const dirStat = statSync(options.dataDir);
    if (!dirStat.isDirectory()) {
      throw new BitsError('ERROR_DIRECTORY', `The data directory ${options.dataDir} is not a directory.`);
    }
    // mkdir's mode is filtered by the umask and ignored for an existing directory: enforce it.
    if ((dirStat.mode & 0o077) !== 0) chmodSync(options.dataDir, 0o700);
    const path = join(options.dataDir, DATABASE_FILE);
    // Create the file 0600 before SQLite does, so it never exists with looser permissions.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);

    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL: commits are not fsynced one by one; the WAL is synced at checkpoints. A power loss
      // can forget the last moments of queue changes but never corrupts the database, and a
      // process crash loses nothing. Transfer engines sync file bytes before recording progress,
      // so recorded progress is never ahead of the bytes on disk.
      db.pragma('synchronous = NORMAL');
      // Checkpoints (and their fsyncs) every ~40 MB of WAL instead of every 4 MB: with the default
      // they were a third of the cost of each small commit under load.
      db.pragma('wal_autocheckpoint = 10000');
      db.pragma('foreign_keys = ON');
      // The default 2 MB page cache holds ~2,000 jobs: beyond that every lookup and insert read
      // pages back from the OS. 64 MB keeps a 100,000-job queue's tables and indexes in memory.
      db.pragma('cache_size = -65536');
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
      migrate(db, readMigrations(options.migrationsDir ?? defaultMigrationsDir()), options.now);
      for (const suffix of ['-wal', '-shm']) {
        try {
          chmodSync(path + suffix, 0o600);
        } catch {
          // The WAL and shared-memory files appear lazily; SQLite creates them with the db's mode.
        }
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new JobStore(db, path);
  }

  close(): void {
    if (!this.#db.open) return;
    this.#group.flush();
    this.#db.close();
  }

  /** The applied migrations, for diagnostics and tests. */
  appliedMigrations(): Array<{ version: number; name: string; checksum: string }> {
    return this.#db.prepare<[], { version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all();
  }

  /** The schema as SQL (sqlite_schema, stable order): the snapshot test compares it to a fixture. */
  schemaSql(): string {
    const rows = this.#db
      .prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name")
      .all();
    return `${rows.map((r) => `${r.sql};`).join('\n\n')}\n`;
  }

  userVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
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
    this.#cachedStatement(`insert:${cols.join(',')}`, () =>
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

  /** Jobs not yet final, oldest first, with their progress totals; one query whatever the count. */
  listLiveJobs(owner?: string): JobWithAggregate[] {
    const rows = owner === undefined ? this.#stmts.listLive.all() : this.#stmts.listLiveByOwner.all(owner);
    return rows.map(splitAggregate);
  }

  /** The ids of listLiveJobs(owner), in the same order, without reading rows or totals. */
  listLiveJobIds(owner?: string): string[] {
    const rows = owner === undefined ? this.#stmts.listLiveIds.all() : this.#stmts.listLiveIdsByOwner.all(owner);
    return rows.map((r) => r.id);
  }

  countLiveJobsByOwner(): Map<string, number> {
    return new Map(this.#stmts.countLiveByOwner.all().map((r) => [r.owner, r.n]));
  }

  updateJob(id: string, patch: JobPatch): void {
    const row = jobToRow(patch);
    const cols = Object.keys(row);
    if (cols.length === 0) return;
    this.#write();
    this.#cachedStatement(`update-job:${cols.join(',')}`, () =>
      `UPDATE jobs SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
    ).run(...Object.values(row), id);
  }

  deleteJob(id: string): void {
    this.#write();
    this.#stmts.deleteJob.run(id);
  }

  /** Removes final jobs that reached their final state before `before` (and owe no Cancel-Session). */
  purgeFinalJobs(before: number): number {
    this.#write();
    const removed = this.#stmts.purgeFinal.run(before).changes;
    return removed;
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

  updateFile(jobId: string, index: number, patch: FilePatch): void {
    const row = fileToRow(patch);
    const cols = Object.keys(row);
    if (cols.length === 0) return;
    this.#write();
    this.#cachedStatement(`update-file:${cols.join(',')}`, () =>
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

  hasQueuedAtOrAbove(priority: number): boolean {
    return this.#stmts.hasQueuedAtOrAbove.get(priority) !== undefined;
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

  earliestCancelAt(): number | null {
    return this.#stmts.earliestCancel.get()?.at ?? null;
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

  activeJobIds(): string[] {
    return this.#stmts.activeJobs.all().map((r) => r.id);
  }

  #cachedStatement(key: string, sql: () => string): Database.Statement {
    let stmt = this.#updateCache.get(key);
    if (!stmt) {
      stmt = this.#db.prepare(sql());
      this.#updateCache.set(key, stmt);
    }
    return stmt;
  }

  /** This connection's settings, read back from SQLite (diagnostics; test/store/pragmas.test.ts). */
  pragmas(): { journalMode: string; foreignKeys: number; busyTimeoutMs: number; synchronous: number } {
    const read = (name: string): unknown => this.#db.pragma(name, { simple: true });
    return { journalMode: String(read('journal_mode')), foreignKeys: Number(read('foreign_keys')), busyTimeoutMs: Number(read('busy_timeout')), synchronous: Number(read('synchronous')) };
  }
}
