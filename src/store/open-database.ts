/**
 * Opens the queue's SQLite database: a data directory created 0700, the file 0600 before SQLite
 * ever creates it, WAL, foreign keys, a busy timeout so a second process waits instead of
 * failing, and the migrations applied.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BitsError } from '../shared/errors.js';
import { defaultMigrationsDir, migrate, readMigrations } from './migrate.js';

export const DATABASE_FILE = 'bitsd.sqlite';

export interface OpenStoreOptions {
  readonly dataDir: string;
  readonly now: number;
  readonly migrationsDir?: string;
  readonly busyTimeoutMs?: number;
}

export function openDatabase(options: OpenStoreOptions): { db: Database.Database; path: string } {
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
  return { db, path };
}
