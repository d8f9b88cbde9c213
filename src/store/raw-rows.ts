/**
 * Wide rows read fast: the statement runs in better-sqlite3's raw mode (arrays), and each row
 * object is built by a constructor compiled once for the statement's columns.
 *
 * better-sqlite3 builds a row object property by property through the V8 API; for the ~60 columns
 * of a job that made `SELECT * FROM jobs WHERE id = ?` plus jobFromRow ~34 µs, most of it in the
 * object, and jobs are read on every API call (bench case 5). An object literal with the same
 * keys in the same order gets one hidden class and is cheap to build and to read: ~18 µs.
 * The generated code only indexes the array; the keys are JSON-quoted column names of our own
 * schema, never data.
 */
import type Database from 'better-sqlite3';
import type { SqlRow } from './records.js';

type SqlValue = SqlRow[string];

export class RawRows<P extends unknown[]> {
  readonly #stmt: Database.Statement<P, SqlValue[]>;
  readonly #build: (values: SqlValue[]) => SqlRow;

  constructor(stmt: Database.Statement<P, SqlValue[]>) {
    this.#stmt = stmt.raw(true);
    const names = stmt.columns().map((c) => c.name);
    const fields = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
    this.#build = new Function('v', `return { ${fields} };`) as (values: SqlValue[]) => SqlRow;
  }

  get(...params: P): SqlRow | undefined {
    const values = this.#stmt.get(...params);
    return values === undefined ? undefined : this.#build(values);
  }

  all(...params: P): SqlRow[] {
    return this.#stmt.all(...params).map(this.#build);
  }
}
