/**
 * IBackgroundCopyJob2::SetNotifyCmdLine: the program runs when the job enters TRANSFERRED or
 * ERROR (if the notify flags ask for that event and DISABLE is not set), as the daemon's user,
 * with no shell, no PATH search and no variable expansion. If it exits non-zero while the job is
 * still in that state, it runs again after the job's minimum retry delay.
 *
 * Parameters follow the Windows convention that they start with the program itself; that first
 * word is dropped when it names the program. Words split on blanks, with "double quotes" grouping.
 * Re-runs are in memory: a daemon restart does not re-run a program (our decision).
 */
import { spawn } from 'node:child_process';
import type { Clock, Timer } from '../shared/clock.js';
import { NOTIFY } from '../job/types.js';
import type { JobRecord } from '../job/records.js';

export function splitParameters(program: string, parameters: string | null): string[] {
  if (parameters === null) return [];
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(parameters); m !== null; m = re.exec(parameters)) words.push(m[1] ?? m[2] ?? '');
  if (words[0] === program) words.shift();
  return words;
}

export interface NotifyCommandsOptions {
  readonly clock: Clock;
  /** The job as it is now, or undefined when it is gone. */
  readonly current: (jobId: string) => JobRecord | undefined;
  readonly onResult?: (jobId: string, exitCode: number | null, error?: Error) => void;
}

export class NotifyCommands {
  readonly #options: NotifyCommandsOptions;
  readonly #retries = new Map<string, Timer>();
  #stopped = false;

  constructor(options: NotifyCommandsOptions) {
    this.#options = options;
  }

  /** Called when a job enters TRANSFERRED or ERROR. */
  trigger(job: JobRecord, kind: 'transferred' | 'error'): void {
    if (this.#stopped || !job.notifyProgram) return;
    const flags = job.notifyFlags;
    if (flags & NOTIFY.DISABLE) return;
    if (kind === 'transferred' && !(flags & NOTIFY.JOB_TRANSFERRED)) return;
    if (kind === 'error' && !(flags & NOTIFY.JOB_ERROR)) return;
    this.#retries.get(job.id)?.cancel();
    this.#run(job.id, job.state, job.notifyProgram, splitParameters(job.notifyProgram, job.notifyParameters));
  }

  #run(jobId: string, state: string, program: string, args: string[]): void {
    const child = spawn(program, args, { stdio: 'ignore', shell: false, cwd: '/' });
    let reported = false;
    const done = (code: number | null, error?: Error): void => {
      if (reported) return;
      reported = true;
      this.#options.onResult?.(jobId, code, error);
      if (code === 0 || this.#stopped) return;
      const job = this.#options.current(jobId);
      if (!job || job.state !== state) return;
      const timer = this.#options.clock.at(this.#options.clock.now() + job.minRetryDelaySec * 1000, () => {
        this.#retries.delete(jobId);
        const still = this.#options.current(jobId);
        if (still && still.state === state && still.notifyProgram) {
          this.#run(jobId, state, still.notifyProgram, splitParameters(still.notifyProgram, still.notifyParameters));
        }
      });
      this.#retries.set(jobId, timer);
    };
    child.once('error', (err) => done(null, err));
    child.once('exit', (code) => done(code));
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#retries.values()) t.cancel();
    this.#retries.clear();
  }
}
