/**
 * /transfer: create a job, add the files, resume it and follow its events to the end
 * (follow-job.ts). TRANSFERRED -> complete and exit 0; ERROR -> print the error, cancel and exit
 * 1; Ctrl-C -> cancel and exit 130. A job that cannot be set up (a bad URL, say) is cancelled
 * before the error is reported, so nothing is left behind.
 */
import type { BackgroundCopyJob, FileInfo } from '../../api/types.js';
import { PRIORITIES, type JobType, type Priority } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';
import { describeHresult, formatHresult, hresultOf } from '../../shared/hresult.js';
import { arg, parseChoice, usageOf } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { Changes } from '../changes.js';
import { followJob } from '../follow-job.js';
import { errorContextLine, errorFileLines, formatType, printable } from '../format.js';
import { ProgressReporter } from '../progress.js';
import { type ErrorJson, isCode, type JobJson, readError, readJob } from '../snapshot.js';
import type { VerbContext, VerbSpec } from '../types.js';
import { jobTypeOf, TYPE_FLAGS } from './define.js';

export const transfer: VerbSpec = {
  name: 'transfer',
  usage: 'NAME [/download|/upload|/upload-reply] [/priority P] [/dynamic] REMOTE LOCAL [REMOTE LOCAL ...]',
  summary: 'Create a job, add the files, run it to the end with live progress and complete it; Ctrl-C cancels it.',
  arity: [3, Number.POSITIVE_INFINITY],
  flags: [...TYPE_FLAGS, 'dynamic'],
  options: ['priority'],
  async run(ctx, args): Promise<number> {
    const usage = usageOf(transfer);
    const type = jobTypeOf(args, usage);
    const priorityText = args.option('priority');
    const priority = priorityText === undefined ? undefined : parseChoice(priorityText, PRIORITIES, 'The priority');
    const pairs = args.positionals.slice(1);
    if (pairs.length % 2 !== 0) throw new UsageError(`Every REMOTE needs a LOCAL; got ${pairs.length} names.`, usage);
    const files: FileInfo[] = [];
    for (let i = 0; i < pairs.length; i += 2) files.push({ remoteName: pairs[i] as string, localName: pairs[i + 1] as string });
    const name = arg(args, 0);

    const job = await (await ctx.api()).createJob(name, type);
    try {
      if (priority !== undefined) await job.setPriority(priority);
      if (args.has('dynamic')) await job.setProperty('DYNAMIC_CONTENT', true);
      await job.addFileSet(files);
      await job.resume();
    } catch (err) {
      await cancelQuietly(job);
      throw err;
    }
    return follow(ctx, job, name, type, priority ?? (await job.getPriority()));
  },
};

async function follow(ctx: VerbContext, job: BackgroundCopyJob, name: string, type: JobType, priority: Priority): Promise<number> {
  const { io } = ctx;
  const out = ctx.json ? null : io.stdout;
  out?.write(`DISPLAY: '${printable(name)}' TYPE: ${formatType(type)} PRIORITY: ${priority} JOB: ${job.id}\n`);
  const reporter = out ? new ProgressReporter(out, { tty: io.isTTY, ...(io.columns === undefined ? {} : { columns: io.columns }) }) : null;
  const api = await ctx.api();
  const ending = await followJob({ job, type, signal: io.signal, reporter, changes: () => new Changes(job, api) });
  reporter?.finish(ending.view ?? undefined);

  switch (ending.kind) {
    case 'transferred':
      return completed(ctx, job);
    case 'error':
      return failed(ctx, job);
    case 'interrupted':
      return interrupted(ctx, job);
    case 'gone':
      throw new BitsError('BG_E_NOT_FOUND', `Job ${job.id} was completed or canceled by another client before the transfer finished.`);
  }
}

async function completed(ctx: VerbContext, job: BackgroundCopyJob): Promise<number> {
  const before = ctx.json ? await readJob(job) : null;
  const result = await job.complete();
  if (before) {
    ctx.io.stdout.write(`${JSON.stringify({ ...(await afterComplete(job, before)), result }, null, 2)}\n`);
    return EXIT.OK;
  }
  ctx.io.stdout.write(result === 'S_OK' ? 'Transfer complete.\n' : 'Transfer partially complete: some files were not transferred (BG_S_PARTIAL_COMPLETE).\n');
  return EXIT.OK;
}

/**
 * The job after Complete. A client may no longer be allowed to read a job that left the queue;
 * then the snapshot taken just before Complete stands, with the state Complete gave it.
 */
async function afterComplete(job: BackgroundCopyJob, before: JobJson): Promise<JobJson> {
  try {
    return await readJob(job);
  } catch (err) {
    if (isCode(err, 'BG_E_NOT_FOUND')) return { ...before, state: 'ACKNOWLEDGED' };
    throw err;
  }
}

async function failed(ctx: VerbContext, job: BackgroundCopyJob): Promise<number> {
  const error = await readError(job, 'ERROR');
  const snapshot = ctx.json ? await readJob(job) : null;
  await cancelQuietly(job);
  if (snapshot) {
    ctx.io.stdout.write(`${JSON.stringify({ error: error ? failureOf(error) : null, job: snapshot }, null, 2)}\n`);
    return EXIT.FAILED;
  }
  if (error) {
    const detail = error.message && error.message !== error.description ? ` (${printable(error.message)})` : '';
    ctx.io.stderr.write(`ERROR: ${formatHresult(error.hresult)} ${error.code} - ${printable(error.description)}${detail}\n`);
    // The code and detail are in the first line already; add where and what it failed on.
    ctx.io.stderr.write(`${[...errorFileLines(error), errorContextLine(error)].join('\n')}\n`);
  }
  ctx.io.stderr.write(`Job ${job.id} canceled.\n`);
  return EXIT.FAILED;
}

function failureOf(e: ErrorJson): Record<string, unknown> {
  return { hresult: e.hresult, code: e.code, context: e.context, message: e.message, description: e.description, file: e.file };
}

async function interrupted(ctx: VerbContext, job: BackgroundCopyJob): Promise<number> {
  await cancelQuietly(job);
  const message = `Transfer interrupted: job ${job.id} canceled.`;
  if (ctx.json) {
    const hresult = hresultOf('E_ABORT');
    ctx.io.stdout.write(`${JSON.stringify({ error: { hresult, code: 'E_ABORT', context: 'NONE', message, description: describeHresult(hresult) } }, null, 2)}\n`);
  } else {
    ctx.io.stderr.write(`${message}\n`);
  }
  return EXIT.INTERRUPTED;
}

/** Cancels on the way out of a failure; the original failure is what gets reported. */
async function cancelQuietly(job: BackgroundCopyJob): Promise<void> {
  try {
    await job.cancel();
  } catch {
    // Already final or gone: nothing left to clean up.
  }
}
