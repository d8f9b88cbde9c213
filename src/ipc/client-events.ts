/**
 * on() for BitsClient and its jobs: one daemon subscription per (event, job filter), shared by
 * every local listener of that pair, opened with the first listener and closed with the last.
 * on() stays synchronous like the in-process API: the subscribe request is sent at once, and
 * because the daemon handles one connection's requests in order, a call made after on() returns
 * (resume, say) cannot produce an event the subscription misses.
 */
import type { SubscribableEvents } from '../job/events.js';
import type { IpcConnection } from './client-connection.js';
import type { EventName } from './methods.js';

type Listener = (data: unknown) => void;

interface Entry {
  readonly listeners: Set<Listener>;
  subscription: number | null;
}

export class EventRouter {
  readonly #conn: IpcConnection;
  readonly #entries = new Map<string, Entry>();

  constructor(conn: IpcConnection) {
    this.#conn = conn;
  }

  add<K extends keyof SubscribableEvents>(event: K, jobId: string | null, listener: (...args: SubscribableEvents[K]) => void): () => void {
    if (this.#conn.closed) return () => undefined;
    // The wire carries the event's single argument.
    const wrapped: Listener = (data) => listener(...([data] as SubscribableEvents[K]));
    const key = `${event}\u0000${jobId ?? '*'}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      const created: Entry = { listeners: new Set(), subscription: null };
      entry = created;
      this.#entries.set(key, created);
      this.#open(key, created, event as EventName, jobId);
    }
    entry.listeners.add(wrapped);
    const owner = entry;
    return () => {
      owner.listeners.delete(wrapped);
      if (owner.listeners.size > 0 || this.#entries.get(key) !== owner) return;
      this.#entries.delete(key);
      if (owner.subscription !== null) this.#conn.unsubscribe(owner.subscription);
    };
  }

  #open(key: string, entry: Entry, event: EventName, jobId: string | null): void {
    const handler = {
      event: (_name: string, data: unknown): void => {
        for (const l of [...entry.listeners]) {
          try {
            l(data);
          } catch {
            // As in process: a listener that throws must not stop the others (the daemon logs its own).
          }
        }
      },
      end: (): void => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    };
    this.#conn
      .stream('events.subscribe', { events: [event], ...(jobId === null ? {} : { job: jobId }) }, handler)
      .then((subscription) => {
        entry.subscription = subscription;
        // Every listener left before the daemon answered.
        if (this.#entries.get(key) !== entry) this.#conn.unsubscribe(subscription);
      })
      .catch(() => {
        // The connection dropped or the event name is unknown: no events will come.
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      });
  }
}
