/**
 * /help, /? and VERB /?: generated from the verb table, so the help cannot miss a verb.
 */
import { usageOf } from './args.js';
import type { VerbSpec } from './types.js';

const HEADER = `BITSADMIN version 3.0 [ bitsd ]
BITS administration utility for bitsd, a Linux emulation of the Background Intelligent Transfer Service.

Usage: bitsadmin [--socket PATH] [--json] [/rawreturn] VERB [ARGUMENTS]

  --socket PATH  the bitsd daemon's socket (default $BITSD_SOCKET, else $XDG_RUNTIME_DIR/bitsd/bitsd.sock,
                 else /tmp/bitsd-<uid>/bitsd.sock)
  --json         print one JSON document (see docs/cli.md)
  /rawreturn     print /create and /get* values bare, without a newline
  JOB            a job's {GUID} or display name (a name shared by several jobs is an error)
  VERB /?        help for one verb

Verbs (/verb or verb, any case):`;

export function helpText(verbs: readonly VerbSpec[]): string {
  const rows = verbs.map((v) => `  ${usageOf(v)}\n      ${v.summary}`);
  return `${HEADER}\n${rows.join('\n')}\n\nExit codes: 0 success, 1 the operation failed, 2 bad command line, 3 bitsd not running, 130 /transfer interrupted.`;
}

export function verbHelp(verb: VerbSpec): string {
  return `Usage: bitsadmin ${usageOf(verb)}\n  ${verb.summary}`;
}

export function helpJson(verbs: readonly VerbSpec[]): { verbs: Array<{ name: string; usage: string; summary: string }> } {
  return { verbs: verbs.map((v) => ({ name: v.name, usage: usageOf(v), summary: v.summary })) };
}
