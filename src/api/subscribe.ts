/**
 * on() of the manager and of a job: the callback events, and bitsd's `job:change` (the queue's
 * own `change` event, which ignores notify flags), for every job or for one.
 */
import type { AllEvents, SubscribableEvents } from '../job/events.js';
import type { QueueEmitter } from '../queue/events.js';

/** Adds `listener` (only for `jobId`'s events unless null); returns the function that removes it. */
export function subscribe<K extends keyof SubscribableEvents>(
  events: QueueEmitter,
  event: K,
  listener: (...args: SubscribableEvents[K]) => void,
  jobId: string | null,
): () => void {
  const name: keyof AllEvents = event === 'job:change' ? 'change' : event;
  const handler =
    jobId === null
      ? listener
      : (...args: SubscribableEvents[K]): void => {
          if (args[0].jobId === jobId) listener(...args);
        };
  events.on(name, handler as never);
  return () => {
    events.off(name, handler as never);
  };
}
