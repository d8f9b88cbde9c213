/**
 * runCli: bitsadmin as a function. It parses the command line, runs one verb against the API that
 * `connect` opens (the daemon over IPC in the binary, an in-process manager in tests), renders the
 * outcome as text, /rawreturn text or JSON, and returns the exit code. It never touches `process`:
 * the binary owns signals, streams and the exit status.
 */
import type { BackgroundCopyManagerApi } from '../api/types.js';
import { parseCommandLine, parseVerbArgs, usageOf } from './args.js';
import { AmbiguousNameError, EXIT, failureJson, failureText, toFailure, UsageError } from './errors.js';
import { helpJson, helpText, verbHelp } from './help.js';
import { resolveJob } from './resolve.js';
import type { CliIo, Connect, Outcome, VerbContext } from './types.js';
import { findVerb, UNSUPPORTED, VERBS } from './verbs/index.js';

export type { CliIo, Connect } from './types.js';

function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function render(io: CliIo, outcome: Outcome, json: boolean, raw: boolean): void {
  if (json) printJson(io, outcome.json);
  else if (raw && outcome.raw !== undefined) io.stdout.write(outcome.raw);
  else io.stdout.write(`${outcome.text}\n`);
}

function help(io: CliIo, json: boolean, topic: string | undefined): number {
  const verb = topic === undefined ? undefined : findVerb((topic.startsWith('/') ? topic.slice(1) : topic).toLowerCase());
  if (topic !== undefined && verb === undefined) throw new UsageError(`No verb ${topic}; bitsadmin /help lists the verbs.`);
  if (json) printJson(io, helpJson(verb ? [verb] : VERBS));
  else io.stdout.write(`${verb ? verbHelp(verb) : helpText(VERBS)}\n`);
  return EXIT.OK;
}

export async function runCli(argv: readonly string[], io: CliIo, connect: Connect): Promise<number> {
  // Known before parsing finishes, so even a malformed command line fails in the asked-for format.
  let json = argv.some((a) => a.toLowerCase() === '--json');
  let connecting: Promise<BackgroundCopyManagerApi> | null = null;
  let usage: string | null = null;
  try {
    const line = parseCommandLine(argv);
    json = line.json;
    if (line.help || line.verb === null) return help(io, json, line.rest[0]);
    const spec = findVerb(line.verb);
    if (!spec) {
      const why = UNSUPPORTED.get(line.verb);
      if (why) throw new UsageError(`/${line.verb} is not supported by bitsd: ${why}.`, null, 'E_NOTIMPL');
      throw new UsageError(`Unknown verb /${line.verb}; bitsadmin /help lists the verbs.`);
    }
    usage = usageOf(spec);
    const args = parseVerbArgs(spec, line.rest);
    if (args.help) return help(io, json, spec.name);
    const ctx: VerbContext = {
      io,
      json,
      raw: line.raw,
      api: () => (connecting ??= connect(line.socket)),
      job: async (nameOrId) => resolveJob(await ctx.api(), nameOrId),
    };
    const outcome = await spec.run(ctx, args);
    if (typeof outcome === 'number') return outcome;
    render(io, outcome, json, line.raw);
    return outcome.exitCode ?? EXIT.OK;
  } catch (err) {
    // A bad value found while the verb ran (a priority, a number) still gets the verb's usage line.
    const withUsage = err instanceof UsageError && err.usage === null && usage !== null && !(err instanceof AmbiguousNameError);
    const failure = toFailure(withUsage ? new UsageError(err.message, usage, err.code) : err);
    if (json) printJson(io, failureJson(failure));
    // stderr gets the text in --json mode too: stdout stays one parseable document, people still see why.
    io.stderr.write(failureText(failure));
    return failure.exitCode;
  } finally {
    if (connecting) await closeQuietly(connecting);
  }
}

async function closeQuietly(api: Promise<BackgroundCopyManagerApi>): Promise<void> {
  try {
    await (await api).close();
  } catch {
    // A failed connect was reported above; a failed close changes nothing for the user.
  }
}
