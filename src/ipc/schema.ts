/**
 * A small schema language for IPC parameters: each schema checks a decoded JSON value and names
 * what is wrong with it, and carries the TypeScript type it admits, so the method table gives the
 * server typed parameters and the client typed calls from one definition. Pure: no I/O.
 *
 * Schemas check wire types (string, number, null, object shape); the values themselves (a known
 * priority, a URL, a path, the DWORD range of flags and timeouts) are checked by the manager, so a
 * call gets the same HRESULT over IPC as in process. Only the IPC's own integers (a file index, a
 * subscription id) are range-checked here.
 */

export interface Schema<T> {
  /** What the schema admits, for messages: "a string", "an array of ...". */
  readonly expected: string;
  /** null when `value` fits; otherwise what is wrong, naming `path`. */
  check(value: unknown, path: string): string | null;
  /** Phantom: the admitted type (never set at run time). */
  readonly type?: T;
}

export interface OptionalSchema<T> {
  readonly optional: true;
  readonly schema: Schema<T>;
}

export type Field = Schema<unknown> | OptionalSchema<unknown>;
export type Shape = Readonly<Record<string, Field>>;

export type Infer<S> = S extends Schema<infer T> ? T : S extends OptionalSchema<infer T> ? T : never;

type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];

/** The object type a shape admits: optional fields may be absent (never undefined on the wire). */
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

/** Short rendering of a received value for error messages (never the whole of a large value). */
export function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function make<T>(expected: string, test: (value: unknown) => boolean): Schema<T> {
  return { expected, check: (value, path) => (test(value) ? null : `${path} must be ${expected}; got ${preview(value)}`) };
}

export const string = (): Schema<string> => make('a string', (v) => typeof v === 'string');
/** A finite number (JSON has no NaN or Infinity); integrality is left to the manager. */
export const number = (): Schema<number> => make('a number', (v) => typeof v === 'number' && Number.isFinite(v));
export const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Schema<number> =>
  make(max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`, (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max);
export const boolean = (): Schema<boolean> => make('true or false', (v) => typeof v === 'boolean');

export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  return make(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, (v) => typeof v === 'string' && (values as readonly string[]).includes(v));
}

export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return {
    expected: `${schema.expected} or null`,
    check: (value, path) => (value === null || schema.check(value, path) === null ? null : `${path} must be ${schema.expected} or null; got ${preview(value)}`),
  };
}

/** number | boolean | string | null: the Job5 property value. */
export const scalar = (): Schema<number | boolean | string | null> =>
  make('a number, a boolean, a string or null', (v) => v === null || typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)));

export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return { optional: true, schema };
}

function isOptional(field: Field): field is OptionalSchema<unknown> {
  return 'optional' in field;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function arrayOf<T>(item: Schema<T>, options: { min: number; max: number }): Schema<T[]> {
  const expected = `an array of ${options.min}-${options.max} items, each ${item.expected}`;
  return {
    expected,
    check(value, path) {
      if (!Array.isArray(value)) return `${path} must be ${expected}; got ${preview(value)}`;
      if (value.length < options.min || value.length > options.max) return `${path} must hold ${options.min}-${options.max} items; got ${value.length}`;
      for (let i = 0; i < value.length; i++) {
        const problem = item.check(value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return null;
    },
  };
}

/** An object with exactly these fields: a missing required field or an unknown one is refused. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const names = Object.keys(shape);
  const expected = names.length === 0 ? 'an empty object' : `an object with ${names.join(', ')}`;
  return {
    expected,
    check(value, path) {
      if (!isPlainObject(value)) return `${path} must be ${expected}; got ${preview(value)}`;
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(shape, key)) return `${path} has an unknown field ${JSON.stringify(key)}${names.length ? ` (known: ${names.join(', ')})` : ''}`;
      }
      for (const name of names) {
        const field = shape[name] as Field;
        const present = Object.hasOwn(value, name);
        if (!present) {
          if (isOptional(field)) continue;
          return `${path}.${name} is missing (${field.expected})`;
        }
        const problem = (isOptional(field) ? field.schema : field).check(value[name], `${path}.${name}`);
        if (problem) return problem;
      }
      return null;
    },
  };
}
