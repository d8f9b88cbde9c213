/**
 * bitsadmin's command line: global flags, then the verb, then the verb's arguments.
 *
 *   bitsadmin [--socket PATH] [--json] [/rawreturn] [/wrap|/nowrap] VERB [ARGS...]
 *
 * Verbs are case-insensitive and may be written /create or create. Inside a verb's arguments a
 * token is a switch only when it names one of that verb's switches (/verbose, /priority ...):
 * Linux paths start with a slash too, so any other /token is an ordinary argument. "--" ends
 * switch parsing, for a local path that happens to spell a switch.
 */
import { UsageError } from './errors.js';
import type { VerbArgs, VerbSpec } from './types.js';

export interface CommandLine {
  readonly socket: string | undefined;
  readonly json: boolean;
  readonly raw: boolean;
  /** Lower case, without the slash; null when no verb was given. */
  readonly verb: string | null;
  readonly rest: readonly string[];
  /** /help, /? or --help before any verb. */
  readonly help: boolean;
}

const HELP_TOKENS = new Set(['/?', '/help', '-h', '--help', '-?', 'help', '?']);

export function isHelpToken(token: string): boolean {
  return HELP_TOKENS.has(token.toLowerCase());
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  let socket: string | undefined;
  let json = false;
  let raw = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i] as string;
    const lower = token.toLowerCase();
    if (lower === '--json') json = true;
    else if (lower === '--socket') {
      const value = argv[i + 1];
      if (value === undefined || value === '') throw new UsageError('--socket needs a path.');
      socket = value;
      i++;
    } else if (lower.startsWith('--socket=')) {
      socket = token.slice('--socket='.length);
      if (socket === '') throw new UsageError('--socket needs a path.');
    } else if (lower === '/rawreturn') raw = true;
    else if (lower === '/wrap' || lower === '/nowrap') {
      // Accepted for compatibility: bitsd never wraps lines, so both are no-ops.
    } else break;
  }
  const verbToken = argv[i];
  if (verbToken === undefined) return { socket, json, raw, verb: null, rest: [], help: false };
  if (isHelpToken(verbToken)) return { socket, json, raw, verb: null, rest: argv.slice(i + 1), help: true };
  if (verbToken.startsWith('--')) throw new UsageError(`Unknown option ${verbToken}; the global options are --socket PATH and --json.`);
  const verb = (verbToken.startsWith('/') ? verbToken.slice(1) : verbToken).toLowerCase();
  return { socket, json, raw, verb, rest: argv.slice(i + 1), help: false };
}

export interface ParsedVerbArgs extends VerbArgs {
  /** /? or /help among the verb's arguments. */
  readonly help: boolean;
}

/** Splits a verb's tokens into switches and positionals and checks the count. */
export function parseVerbArgs(spec: VerbSpec, tokens: readonly string[]): ParsedVerbArgs {
  const flags = new Set<string>();
  const options = new Map<string, string>();
  const positionals: string[] = [];
  const usage = usageOf(spec);
  let help = false;
  let switches = true;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (switches && token === '--') {
      switches = false;
      continue;
    }
    if (switches && token.startsWith('/')) {
      const name = token.slice(1).toLowerCase();
      if (token === '/?' || name === 'help') {
        help = true;
        continue;
      }
      if (spec.flags?.includes(name)) {
        flags.add(name);
        continue;
      }
      if (spec.options?.includes(name)) {
        const value = tokens[i + 1];
        if (value === undefined) throw new UsageError(`${token} needs a value.`, usage);
        options.set(name, value);
        i++;
        continue;
      }
    }
    if (switches && token.startsWith('--') && token.length > 2) {
      throw new UsageError(`Unknown option ${token}: --socket and --json go before the verb (use -- before an argument that starts with --).`, usage);
    }
    positionals.push(token);
  }
  const [min, max] = spec.arity;
  if (!help && positionals.length < min) throw new UsageError(`/${spec.name} needs ${spec.usage}.`, usage);
  if (!help && positionals.length > max) {
    throw new UsageError(`/${spec.name} takes ${spec.usage || 'no arguments'}; unexpected ${JSON.stringify(positionals[max])}.`, usage);
  }
  return {
    positionals,
    help,
    has: (flag) => flags.has(flag),
    option: (name) => options.get(name),
  };
}

export function usageOf(spec: VerbSpec): string {
  return `/${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`;
}

/** The positional at `index`; parseVerbArgs has already checked the count. */
export function arg(args: VerbArgs, index: number): string {
  const value = args.positionals[index];
  if (value === undefined) throw new UsageError(`Missing argument ${index + 1}.`);
  return value;
}

/** bitsadmin spells "no value" as NULL (any case). */
export function nullable(text: string | undefined): string | null {
  return text === undefined || text.toUpperCase() === 'NULL' ? null : text;
}

/**
 * An unsigned integer in decimal or 0x-hexadecimal, at most `max` (a DWORD by default). Flags
 * (/setnotifyflags, /setsecurityflags) are often written in hex, seconds in decimal; both forms
 * are accepted everywhere.
 */
export function parseUnsigned(text: string, what: string, max = 0xffffffff): number {
  const t = text.trim();
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(t)) value = Number.parseInt(t.slice(2), 16);
  else if (/^\d+$/.test(t)) value = Number(t);
  else throw new UsageError(`${what} must be a whole number (decimal or 0x hex); got ${JSON.stringify(text)}.`);
  if (!Number.isSafeInteger(value) || value > max) throw new UsageError(`${what} must be at most ${max}; got ${text}.`);
  return value;
}

/** One of a fixed set of words, any case; returns the canonical spelling. */
export function parseChoice<T extends string>(text: string, choices: readonly T[], what: string, aliases: Readonly<Record<string, T>> = {}): T {
  const upper = text.toUpperCase();
  const found = choices.find((c) => c === upper) ?? aliases[upper];
  if (found === undefined) throw new UsageError(`${what} must be one of ${choices.join(', ')}; got ${JSON.stringify(text)}.`);
  return found;
}
