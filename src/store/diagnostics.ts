/**
 * What the store can say about its own database, for tests and support: the migrations applied,
 * the schema as SQL, and the connection's settings read back from SQLite.
 */
import type Database from 'better-sqlite3';

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

export function appliedMigrations(db: Database.Database): AppliedMigration[] {
  return db.prepare<[], AppliedMigration>('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all();
}

/** The schema as SQL (sqlite_schema, stable order): the snapshot test compares it to a fixture. */
export function schemaSql(db: Database.Database): string {
  const rows = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name").all();
  return `${rows.map((r) => `${r.sql};`).join('\n\n')}\n`;
}

export interface StorePragmas {
  readonly journalMode: string;
  readonly foreignKeys: number;
  readonly busyTimeoutMs: number;
  readonly synchronous: number;
}

/** The connection's settings (test/store/pragmas.test.ts). */
export function pragmas(db: Database.Database): StorePragmas {
  const read = (name: string): unknown => db.pragma(name, { simple: true });
  return { journalMode: String(read('journal_mode')), foreignKeys: Number(read('foreign_keys')), busyTimeoutMs: Number(read('busy_timeout')), synchronous: Number(read('synchronous')) };
}
