/**
 * IBackgroundCopyJob as an async iterator: a snapshot now, then one per change until the job
 * rests (TRANSFERRED, ERROR, SUSPENDED or final) or the signal aborts. Changes that arrive
 * while the consumer is busy coalesce into the next snapshot.
 */
import { RESTING_STATES } from '../job/types.js';
import type { QueueEmitter } from '../queue/events.js';
import type { WatchEvent } from './types.js';

export async function* watchJob(
  events: QueueEmitter,
  jobId: string,
  snapshotOf: (kind: WatchEvent['kind']) => WatchEvent,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<WatchEvent> {
  signal?.throwIfAborted();
  let pending: WatchEvent['kind'] | null = null;
  let wake: (() => void) | null = null;
  const onChange = (data: { jobId: string; kind: WatchEvent['kind'] }): void => {
    if (data.jobId !== jobId) return;
    // Coalesce: a state change outranks progress, which outranks a property change.
    if (pending !== 'state') pending = data.kind === 'state' || pending === null ? data.kind : pending;
    wake?.();
  };
  const onAbort = (): void => wake?.();
  events.on('change', onChange);
  signal?.addEventListener('abort', onAbort);
  try {
    let snapshot = snapshotOf('state');
    yield snapshot;
    while (!RESTING_STATES.has(snapshot.state) && !signal?.aborted) {
      if (pending === null) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      if (signal?.aborted || pending === null) continue;
      const kind: WatchEvent['kind'] = pending;
      pending = null;
      snapshot = snapshotOf(kind);
      yield snapshot;
    }
  } finally {
    events.off('change', onChange);
    signal?.removeEventListener('abort', onAbort);
  }
}
