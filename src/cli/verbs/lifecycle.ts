/**
 * Creating and moving jobs through their states: /create, /resume, /suspend, /cancel, /complete,
 * /reset.
 */
import { arg, usageOf } from '../args.js';
import { EXIT, toFailure } from '../errors.js';
import { printable } from '../format.js';
import { formatHresult } from '../../shared/hresult.js';
import type { Outcome, VerbSpec } from '../types.js';
import { isCode } from '../snapshot.js';
import { jobTypeOf, TYPE_FLAGS } from './define.js';

const create: VerbSpec = {
  name: 'create',
  usage: '[/download|/upload|/upload-reply] NAME',
  summary: 'Create a job (suspended; default type download). Prints its GUID.',
  arity: [1, 1],
  flags: TYPE_FLAGS,
  async run(ctx, args): Promise<Outcome> {
    const type = jobTypeOf(args, usageOf(create));
    const job = await (await ctx.api()).createJob(arg(args, 0), type);
    return { text: `created job ${job.id}`, raw: job.id, json: { id: job.id } };
  },
};

const resume: VerbSpec = {
  name: 'resume',
  usage: 'JOB',
  summary: 'Activate the job in the transfer queue (also retries a job in ERROR).',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    await job.resume();
    return { text: 'Job resumed.', json: { id: job.id, state: await job.getState() } };
  },
};

const suspend: VerbSpec = {
  name: 'suspend',
  usage: 'JOB',
  summary: 'Suspend the job (transfers stop; progress is kept).',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    await job.suspend();
    return { text: 'Job suspended.', json: { id: job.id, state: await job.getState() } };
  },
};

const cancel: VerbSpec = {
  name: 'cancel',
  usage: 'JOB',
  summary: 'Cancel the job: it leaves the queue and its temporary files are deleted.',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const result = await job.cancel();
    const text = result === 'S_OK' ? 'Job canceled.' : 'Job canceled, but some temporary files could not be deleted (BG_S_UNABLE_TO_DELETE_FILES).';
    return { text, json: { id: job.id, state: 'CANCELLED', result } };
  },
};

const complete: VerbSpec = {
  name: 'complete',
  usage: 'JOB',
  summary: 'Complete the job: transferred files are moved to their local names and the job leaves the queue.',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const result = await job.complete();
    const text =
      result === 'S_OK' ? 'Job completed.' : 'Job partially completed: files that had not finished transferring were deleted (BG_S_PARTIAL_COMPLETE).';
    return { text, json: { id: job.id, state: 'ACKNOWLEDGED', result } };
  },
};

const reset: VerbSpec = {
  name: 'reset',
  usage: '[/allusers]',
  summary: "Cancel every job in the queue (yours; with /allusers everyone's).",
  arity: [0, 0],
  flags: ['allusers'],
  async run(ctx, args): Promise<Outcome> {
    const jobs = await (await ctx.api()).enumJobs({ allUsers: args.has('allusers') });
    const lines: string[] = [];
    const canceled: string[] = [];
    const failed: Array<{ id: string; error: { hresult: number; code: string; message: string } }> = [];
    let total = jobs.length;
    // One at a time: bitsadmin reports each job in queue order.
    for (const job of jobs) {
      try {
        await job.cancel();
        canceled.push(job.id);
        lines.push(`${job.id} canceled.`);
      } catch (err) {
        // A job completed or cancelled by someone else meanwhile is gone either way.
        if (isCode(err, 'BG_E_NOT_FOUND') || isCode(err, 'BG_E_INVALID_STATE')) {
          total--;
          continue;
        }
        const f = toFailure(err);
        failed.push({ id: job.id, error: { hresult: f.hresult, code: f.code, message: f.message } });
        lines.push(`${job.id} could not be canceled: ${formatHresult(f.hresult)} ${f.code} - ${printable(f.message)}`);
      }
    }
    lines.push(`${canceled.length} out of ${total} jobs canceled.`);
    return {
      text: lines.join('\n'),
      json: { canceled, failed, total },
      exitCode: failed.length > 0 ? EXIT.FAILED : EXIT.OK,
    };
  },
};

export const lifecycleVerbs: readonly VerbSpec[] = [create, resume, suspend, cancel, complete, reset];
