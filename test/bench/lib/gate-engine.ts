/**
 * A transfer engine for the queue-scale cases: it moves no bytes, so what is measured is the
 * queue, the store, the scheduler (and IPC), not the network. Transfers wait at a gate until
 * open() (so a queue can be filled without it draining), then report a 16 KiB file as connected,
 * sized and transferred, the same callbacks (and so the same store writes) a real engine makes.
 */
import type { TransferContext, TransferEngine } from '../../../src/engine/types.js';

export const GATE_FILE_BYTES = 16 * 1024;

export class GateEngine implements TransferEngine {
  readonly name = 'bench-gate';
  #open = false;
  #waiters: Array<() => void> = [];
  /** Transfers finished since the gate opened. */
  finished = 0;
  onFinished: ((count: number) => void) | null = null;

  handles(): boolean {
    return true;
  }

  open(): void {
    this.#open = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async transfer(ctx: TransferContext): Promise<void> {
    if (!this.#open) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(ctx.signal.reason);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(() => {
          ctx.signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    ctx.sink.connected();
    ctx.sink.setTotal(GATE_FILE_BYTES);
    ctx.sink.progress(GATE_FILE_BYTES);
    this.finished++;
    this.onFinished?.(this.finished);
  }
}
