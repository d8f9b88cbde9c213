/**
 * The shapes shared by the bitsadmin modules: what runCli is given (io, connect), what a verb
 * sees (VerbContext, VerbArgs) and what it hands back (Outcome). Verbs never print directly,
 * except the two that stream (/transfer, /monitor): runCli renders an Outcome as text, raw text or
 * JSON, so the three output modes cannot drift apart.
 */
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../api/types.js';

export interface TextSink {
  write(chunk: string): unknown;
}

export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** stdout is a terminal: /transfer draws a progress bar and /monitor clears the screen. */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C: /transfer cancels its job, /monitor stops. */
  readonly signal?: AbortSignal;
  /** Terminal width for the progress bar (default 80). */
  readonly columns?: number;
  /** Base for relative LISTFILE paths of /addfileset (default process.cwd()). */
  readonly cwd?: string;
}

/** Opens the API; `socket` is the --socket value, undefined for the default. */
export type Connect = (socket?: string) => Promise<BackgroundCopyManagerApi>;

/** What a finished verb prints: runCli chooses text, raw (/rawreturn) or JSON. */
export interface Outcome {
  /** bitsadmin text, without the final newline (an empty value still prints its newline). */
  readonly text: string;
  /** The --json document. */
  readonly json: unknown;
  /** The /rawreturn form: /create and /get* only; printed without a newline, as bitsadmin does. */
  readonly raw?: string;
  /** Default 0. */
  readonly exitCode?: number;
}

export interface VerbArgs {
  readonly positionals: readonly string[];
  /** A boolean switch such as "verbose" (given as /verbose, any case). */
  has(flag: string): boolean;
  /** The value of a switch that takes one, such as "priority". */
  option(name: string): string | undefined;
}

export interface VerbContext {
  readonly io: CliIo;
  readonly json: boolean;
  readonly raw: boolean;
  /** Connects on first use, so usage errors are reported without a daemon. */
  api(): Promise<BackgroundCopyManagerApi>;
  /** A job named by {GUID} or display name (see resolve.ts). */
  job(nameOrId: string): Promise<BackgroundCopyJob>;
}

export interface VerbSpec {
  /** Lower case, without the slash: "addfile". */
  readonly name: string;
  /** The arguments after the verb, for /help and usage errors: "JOB REMOTE LOCAL". */
  readonly usage: string;
  readonly summary: string;
  /** How many positional arguments: [min, max] (max Infinity for lists). */
  readonly arity: readonly [number, number];
  /** Boolean switches, lower case without the slash. */
  readonly flags?: readonly string[];
  /** Switches followed by a value. */
  readonly options?: readonly string[];
  /** An Outcome to render, or an exit code when the verb printed its own output (streaming verbs). */
  run(ctx: VerbContext, args: VerbArgs): Promise<Outcome | number>;
}
