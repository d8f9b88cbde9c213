/**
 * Waiting for a job (or the queue) to change, without polling: /transfer while its job rests
 * SUSPENDED, /monitor between redraws. Counts `job:change` events, which the queue sends for every
 * committed change whatever the job's notify flags. Open it before reading what you will wait on:
 * a change that lands between the read and the wait is then counted, not lost (over IPC the
 * subscription request goes out before the read's, and the daemon takes them in order).
 */
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../api/types.js';
import { BitsClient } from '../ipc/client.js';

/** Anything that has on(): a job (its own changes) or the manager (every job's). */
type ChangeSource = Pick<BackgroundCopyJob, 'on'>;

export class Changes {
  #count = 0;
  #lost: Error | null = null;
  #wake: (() => void) | null = null;
  readonly #offs: Array<() => void>;

  /** `api` is watched for a lost daemon connection, after which no change would ever come. */
  constructor(source: ChangeSource, api: BackgroundCopyManagerApi) {
    this.#offs = [
      source.on('job:change', () => {
        this.#count++;
        this.#wake?.();
      }),
      onDisconnect(api, (err) => {
        this.#lost = err;
        this.#wake?.();
      }),
    ];
  }

  /** Changes seen so far: read it before a read, then wait with after(). */
  get count(): number {
    return this.#count;
  }

  /**
   * Resolves true once a change came after `seen`, false as soon as `signal` aborts; throws the
   * daemon's BG_E_CONNECTION_CLOSED if the connection drops meanwhile.
   */
  async after(seen: number, signal?: AbortSignal): Promise<boolean> {
    const onAbort = (): void => this.#wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (this.#lost) throw this.#lost;
        if (signal?.aborted) return false;
        if (this.#count > seen) return true;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    for (const off of this.#offs.splice(0)) off();
  }
}

/** Calls `listener` if `api` is a daemon connection and it drops; an in-process manager never does. */
function onDisconnect(api: BackgroundCopyManagerApi, listener: (err: Error) => void): () => void {
  return api instanceof BitsClient ? api.onDisconnect(listener) : () => undefined;
}
