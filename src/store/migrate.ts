/**
 * The migration runner: numbered, append-only SQL files (migrations/0001_init.sql, ...).
 *
 * Each file is applied inside its own BEGIN IMMEDIATE transaction, which re-reads the applied
 * versions first and inserts the schema_migrations row before running the SQL, so two runners at
 * once serialise on the write lock and the second one finds the work done. A SHA-256 checksum is
 * recorded per file; a file edited after it was applied, or a database newer than this code,
 * refuses to open with an error that names the file or version.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { BitsError } from '../shared/errors.js';

export interface MigrationFile {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationResult {
  readonly applied: readonly number[];
  readonly version: number;
}

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** Finds migrations/ from this module, both as TypeScript (src/store) and compiled (dist/src/store). */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(candidate, '0001_init.sql'))) return candidate;
    dir = dirname(dir);
  }
  throw new BitsError('E_FAIL', 'Cannot find the migrations/ folder of the bitsd package: the installation is incomplete.');
}

export function readMigrations(dir: string): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  const out: MigrationFile[] = [];
  for (const name of files) {
    const m = FILE_PATTERN.exec(name);
    if (!m) {
      throw new BitsError('E_FAIL', `Migration file ${name} is not named NNNN_lower_snake.sql.`);
    }
    const version = Number(m[1]);
    if (version !== out.length + 1) {
      throw new BitsError('E_FAIL', `Migration file ${name} breaks the sequence: expected version ${out.length + 1}.`);
    }
    const sql = readFileSync(join(dir, name), 'utf8');
    out.push({ version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

export function migrate(db: Database.Database, migrations: readonly MigrationFile[], now: number): MigrationResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);

  const readApplied = db.prepare<[], AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  const insert = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  const known = migrations.length;
  const applied: number[] = [];

  const check = (rows: readonly AppliedRow[]): void => {
    for (const row of rows) {
      if (row.version > known) {
        throw new BitsError(
          'E_FAIL',
          `The database is at schema version ${Math.max(...rows.map((r) => r.version))} (${row.name}), newer than this bitsd knows (${known}). Upgrade bitsd or use another data directory.`,
          { details: { reason: 'database-newer' } },
        );
      }
      const file = migrations[row.version - 1];
      if (file && file.checksum !== row.checksum) {
        throw new BitsError(
          'E_FAIL',
          `Migration ${file.name} was edited after it was applied to this database (checksum mismatch). Migrations are append-only: restore the file and add a new one.`,
          { details: { reason: 'migration-edited', file: file.name } },
        );
      }
    }
  };

  check(readApplied.all());
  for (const file of migrations) {
    const apply = db.transaction(() => {
      const rows = readApplied.all();
      check(rows);
      if (rows.some((r) => r.version === file.version)) return false;
      // The row goes in first: a concurrent runner would fail on the key instead of applying twice.
      insert.run(file.version, file.name, file.checksum, now);
      db.exec(file.sql);
      db.pragma(`user_version = ${file.version}`);
      return true;
    });
    if (apply.immediate()) applied.push(file.version);
  }
  return { applied, version: known };
}
