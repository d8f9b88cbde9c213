/**
 * A transfer engine whose every attempt is driven by the test: the seam src/engine/types.ts
 * exists for this. Each transfer() call becomes an Attempt the test can make progress, succeed
 * or fail (transient or fatal); an abort (suspend, cancel, preemption) rejects it like a real one.
 * Used for scheduler and timer tests, where what matters is when the queue runs what, not bytes.
 */
import { BitsError } from '../../src/shared/errors.js';
import type { HresultCode } from '../../src/shared/hresult.js';
import type { JobType } from '../../src/job/types.js';
import type { TransferContext, TransferEngine } from '../../src/engine/types.js';

export interface Attempt {
  readonly jobId: string;
  readonly fileIndex: number;
  readonly ctx: TransferContext;
  readonly settled: boolean;
  readonly aborted: boolean;
  progress(bytes: number, total?: number): void;
  succeed(): void;
  fail(code: HresultCode, transient: boolean): void;
  /** Fails with this error as the engine threw it (details such as a Retry-After included). */
  failWith(error: BitsError): void;
}

export class ScriptedEngine implements TransferEngine {
  readonly name = 'scripted';
  readonly attempts: Attempt[] = [];
  readonly #scheme: string;
  #waiters: Array<() => void> = [];
  /** When set, every new attempt fails at once with this error. */
  autoFail: { code: HresultCode; transient: boolean } | null = null;
  /** When true, every new attempt succeeds at once. */
  autoSucceed = false;

  constructor(scheme = 'test:') {
    this.#scheme = scheme;
  }

  handles(_jobType: JobType, remote: URL): boolean {
    return remote.protocol === this.#scheme;
  }

  /** Attempts that are still running. */
  get live(): Attempt[] {
    return this.attempts.filter((a) => !a.settled);
  }

  async transfer(ctx: TransferContext): Promise<void> {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const state = { settled: false, aborted: false };
    const attempt: Attempt = {
      jobId: ctx.job.id,
      fileIndex: ctx.file.index,
      ctx,
      get settled() {
        return state.settled;
      },
      get aborted() {
        return state.aborted;
      },
      progress(bytes, total) {
        if (total !== undefined) ctx.sink.setTotal(total);
        ctx.sink.connected();
        ctx.sink.progress(bytes);
      },
      succeed() {
        state.settled = true;
        resolve();
      },
      fail(code, transient) {
        state.settled = true;
        reject(new BitsError(code, `scripted ${transient ? 'transient' : 'fatal'} failure`, { transient, context: 'REMOTE_FILE' }));
      },
      failWith(error) {
        state.settled = true;
        reject(error);
      },
    };
    ctx.signal.addEventListener('abort', () => {
      state.settled = true;
      state.aborted = true;
      reject(ctx.signal.reason);
    }, { once: true });
    this.attempts.push(attempt);
    for (const w of this.#waiters.splice(0)) w();
    if (this.autoFail) attempt.fail(this.autoFail.code, this.autoFail.transient);
    else if (this.autoSucceed) {
      attempt.progress(1, 1);
      attempt.succeed();
    }
    return done;
  }

  /** Waits (real time, bounded) until `count` attempts have started in total. */
  async waitForAttempts(count: number, timeoutMs = 5000): Promise<Attempt> {
    const deadline = Date.now() + timeoutMs;
    while (this.attempts.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.attempts.length} of ${count} attempts started`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.attempts[count - 1] as Attempt;
  }
}
