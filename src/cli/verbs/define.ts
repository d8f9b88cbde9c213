/**
 * Builders for the two shapes most verbs share: a getter (JOB -> one value, printed bare, raw
 * with /rawreturn, as { name: value } in JSON) and a setter (JOB + arguments -> one API call and a
 * confirmation line). Arguments are parsed before the job is resolved, so a bad number is a usage
 * error even when no daemon runs.
 */
import type { BackgroundCopyJob } from '../../api/types.js';
import type { JobType } from '../../job/types.js';
import { arg } from '../args.js';
import { UsageError } from '../errors.js';
import type { Outcome, VerbArgs, VerbSpec } from '../types.js';

export interface GetterOptions<V> {
  readonly name: string;
  readonly summary: string;
  /** The JSON property: /getstate prints { "state": ... }. */
  readonly key: string;
  readonly read: (job: BackgroundCopyJob) => Promise<V>;
  /** The bitsadmin text (also the /rawreturn text). */
  readonly text: (value: V) => string;
  /** The JSON value; default the value itself. */
  readonly json?: (value: V) => unknown;
}

export function getter<V>(o: GetterOptions<V>): VerbSpec {
  return {
    name: o.name,
    usage: 'JOB',
    summary: o.summary,
    arity: [1, 1],
    async run(ctx, args): Promise<Outcome> {
      const job = await ctx.job(arg(args, 0));
      const value = await o.read(job);
      const text = o.text(value);
      return { text, raw: text, json: { [o.key]: o.json ? o.json(value) : value } };
    },
  };
}

export interface SetterOptions<P, R> {
  readonly name: string;
  /** Arguments after JOB, for /help. */
  readonly usage: string;
  readonly summary: string;
  /** Positionals after JOB: [min, max]. */
  readonly arity: readonly [number, number];
  /** Turns the arguments after JOB into the API's value; throws UsageError. */
  readonly parse: (rest: readonly string[]) => P;
  /** Makes the call; returns what to report (the value in effect, e.g. a clamped retry delay). */
  readonly apply: (job: BackgroundCopyJob, value: P) => Promise<R>;
  readonly text: (result: R) => string;
  /** Added to { id } in the JSON document. */
  readonly json: (result: R) => Record<string, unknown>;
}

export function setter<P, R = P>(o: SetterOptions<P, R>): VerbSpec {
  return {
    name: o.name,
    usage: o.usage ? `JOB ${o.usage}` : 'JOB',
    summary: o.summary,
    arity: [o.arity[0] + 1, o.arity[1] + 1],
    async run(ctx, args): Promise<Outcome> {
      const value = o.parse(args.positionals.slice(1));
      const job = await ctx.job(arg(args, 0));
      const result = await o.apply(job, value);
      return { text: o.text(result), json: { id: job.id, ...o.json(result) } };
    },
  };
}

export const TYPE_FLAGS = ['download', 'upload', 'upload-reply'] as const;

/** /download, /upload or /upload-reply (default download); more than one is a usage error. */
export function jobTypeOf(args: VerbArgs, usage: string): JobType {
  const given = TYPE_FLAGS.filter((f) => args.has(f));
  if (given.length > 1) throw new UsageError(`Give one job type, not ${given.map((g) => `/${g}`).join(' and ')}.`, usage);
  if (given[0] === 'upload') return 'UPLOAD';
  if (given[0] === 'upload-reply') return 'UPLOAD_REPLY';
  return 'DOWNLOAD';
}

/** Joins text lines for an Outcome. */
export function lines(...parts: ReadonlyArray<string | readonly string[]>): string {
  return parts.flat().join('\n');
}
