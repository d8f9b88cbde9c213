/**
 * Looking at jobs: /list, /info, /geterror and /monitor.
 */
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../../api/types.js';
import { arg, parseUnsigned, usageOf } from '../args.js';
import { Changes } from '../changes.js';
import { EXIT, UsageError } from '../errors.js';
import { errorLines, infoHeader, infoVerbose, listLine, transferLines } from '../format.js';
import { errorJson, isCode, readJob, readJobDetails } from '../snapshot.js';
import { sleep } from '../sleep.js';
import type { Outcome, VerbSpec } from '../types.js';

/** Reads every job the enumeration returned, skipping those that left the queue meanwhile. */
async function readAll<T>(api: BackgroundCopyManagerApi, allUsers: boolean, read: (job: BackgroundCopyJob) => Promise<T>): Promise<T[]> {
  const jobs = await api.enumJobs({ allUsers });
  const read1 = async (job: BackgroundCopyJob): Promise<T | null> => {
    try {
      return await read(job);
    } catch (err) {
      if (isCode(err, 'BG_E_NOT_FOUND')) return null;
      throw err;
    }
  };
  const all = await Promise.all(jobs.map(read1));
  return all.filter((j): j is Awaited<T> => j !== null);
}

const list: VerbSpec = {
  name: 'list',
  usage: '[/allusers] [/verbose]',
  summary: "List your jobs (everyone's with /allusers); /verbose shows the /info /verbose block of each.",
  arity: [0, 0],
  flags: ['allusers', 'verbose'],
  async run(ctx, args): Promise<Outcome> {
    const api = await ctx.api();
    const allUsers = args.has('allusers');
    const lines: string[] = [];
    let jobs: unknown[];
    if (args.has('verbose')) {
      const details = await readAll(api, allUsers, readJobDetails);
      for (const job of details) lines.push(...infoVerbose(job), '');
      jobs = details;
    } else {
      const summaries = await readAll(api, allUsers, readJob);
      lines.push(...summaries.map(listLine));
      if (summaries.length > 0) lines.push('');
      jobs = summaries;
    }
    lines.push(`Listed ${jobs.length} job(s).`);
    return { text: lines.join('\n'), json: { jobs } };
  },
};

const info: VerbSpec = {
  name: 'info',
  usage: 'JOB [/verbose]',
  summary: 'Show the job: GUID, name, type, state, owner, priority, progress; /verbose shows every setting, the error and the files.',
  arity: [1, 1],
  flags: ['verbose'],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    // JSON always carries the full object: a script should not need two calls.
    const details = await readJobDetails(job);
    const text = args.has('verbose') ? infoVerbose(details) : [...infoHeader(details), ...transferLines(details)];
    return { text: text.join('\n'), json: details };
  },
};

const geterror: VerbSpec = {
  name: 'geterror',
  usage: 'JOB',
  summary: 'Show the error of a job in ERROR or TRANSIENT_ERROR: file, code and context.',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const error = errorJson(await job.getError());
    const text = errorLines(error).join('\n');
    return { text, raw: text, json: { error } };
  },
};

/** Clears the terminal and homes the cursor. */
const CLEAR_SCREEN = '\u001b[2J\u001b[H';

/**
 * /monitor follows the queue's events instead of polling: it draws the list, waits for a change to
 * any job (job:change), and redraws at most once per refresh interval, and only when the list
 * differs from what it showed. An idle queue costs no requests at all.
 */
const monitor: VerbSpec = {
  name: 'monitor',
  usage: '[/allusers] [/refresh SECONDS]',
  summary: 'Show the job list and redraw it when a job changes, at most every SECONDS (default 5), until Ctrl-C.',
  arity: [0, 0],
  flags: ['allusers'],
  options: ['refresh'],
  async run(ctx, args): Promise<number> {
    const text = args.option('refresh');
    const refresh = text === undefined ? 5 : parseUnsigned(text, 'The refresh interval', 24 * 3600);
    if (refresh < 1) throw new UsageError('The refresh interval must be at least 1 second.', usageOf(monitor));
    const api = await ctx.api();
    const { io } = ctx;
    // Listening before the first read: a change made during a read brings the next redraw.
    const changes = new Changes(api, api);
    try {
      let shown: string | null = null;
      for (;;) {
        const seen = changes.count;
        const readAt = Date.now();
        const jobs = await readAll(api, args.has('allusers'), readJob);
        const drawn = JSON.stringify(jobs);
        // Another user's job, or a change undone meanwhile: the same list is not drawn twice.
        if (drawn !== shown) {
          shown = drawn;
          if (ctx.json) {
            // One compact document a line (NDJSON), so a reader can act on each redraw.
            io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), refresh, jobs })}\n`);
          } else {
            const screen = [`MONITORING BACKGROUND COPY MANAGER(${refresh} second refresh)`, ...jobs.map(listLine)].join('\n');
            io.stdout.write(io.isTTY ? `${CLEAR_SCREEN}${screen}\n` : `${screen}\n\n`);
          }
        }
        if (!(await changes.after(seen, io.signal))) break;
        const rest = readAt + refresh * 1000 - Date.now();
        if (rest > 0 && !(await sleep(rest, io.signal))) break;
      }
    } finally {
      changes.close();
    }
    // Ctrl-C is the way /monitor ends: not a failure.
    return EXIT.OK;
  },
};

export const infoVerbs: readonly VerbSpec[] = [list, info, geterror, monitor];
