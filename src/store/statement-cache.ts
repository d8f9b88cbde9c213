/**
 * Statements whose SQL depends on which columns a write sets (a job's or a file's patch): built
 * once per column set and kept, so a write costs no prepare after the first of its shape.
 */
import type Database from 'better-sqlite3';

export class StatementCache {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** The statement kept under `key`, prepared from `sql()` the first time. */
  get(key: string, sql: () => string): Database.Statement {
    let stmt = this.#cache.get(key);
    if (!stmt) {
      stmt = this.#db.prepare(sql());
      this.#cache.set(key, stmt);
    }
    return stmt;
  }
}
