/**
 * The queue's event emitter (the event types are in src/job/events.ts). safeEmit: a listener
 * that throws is reported, never allowed to break the scheduler or the caller.
 */
import { EventEmitter } from 'node:events';
import type { AllEvents } from '../job/events.js';

export class QueueEmitter extends EventEmitter<AllEvents> {
  constructor() {
    super({ captureRejections: false });
    // Many watchers (one per watch() call, per IPC subscription) are normal.
    this.setMaxListeners(0);
  }

  safeEmit<K extends keyof AllEvents>(event: K, ...args: AllEvents[K]): void {
    for (const listener of this.listeners(event) as Array<(...a: AllEvents[K]) => unknown>) {
      try {
        const result = listener(...args);
        if (result instanceof Promise) result.catch((err: unknown) => this.#report(err));
      } catch (err) {
        this.#report(err);
      }
    }
  }

  #report(err: unknown): void {
    for (const listener of this.listeners('listener-error') as Array<(e: unknown) => void>) {
      try {
        listener(err);
      } catch {
        // A failing error reporter has nowhere left to report to.
      }
    }
  }
}
