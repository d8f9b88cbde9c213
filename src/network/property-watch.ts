/**
 * Follows the properties of one object of one service on the system bus, as a value that is null
 * whenever they cannot be known: no bus, the service not running, or the connection lost.
 *
 * On connecting it subscribes (AddMatch) to the bus's NameOwnerChanged for the service and to
 * the object's PropertiesChanged, then asks who owns the name and reads every property with
 * GetAll. A new owner (the service started or restarted) is read again; no owner means null. A
 * lost connection means null and a reconnect after 1 s, doubling to 30 s; stop() cancels all.
 *
 * Never throws after it has started, and says why the value is null once per reason, at debug.
 *
 * Ordering: a GetAll reply and the PropertiesChanged signals that follow it may arrive in one
 * read, and the reply's await resumes after the signals were handled. So signals that arrive
 * while GetAll is out are kept and those received after the reply are applied on top of it.
 */
import { type Clock, systemClock, type Timer } from '../shared/clock.js';
import { DEFAULT_SYSTEM_BUS_ADDRESS, systemBusAddress } from './dbus/address.js';
import { connectBus } from './dbus/connect.js';
import { type BusConnection, dbusErrorName, type Incoming } from './dbus/connection.js';
import { type DBusValue, isVariant } from './dbus/signature.js';

export interface BusWatch<T> {
  current(): T;
  /** Calls `listener` after every change of current(); returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Closes the connection and cancels every timer; resolves once the socket is closed. */
  stop(): Promise<void>;
}

export type WatchLog = (level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;

export interface WatchOptions {
  /** The bus's address (D-Bus syntax); default DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
  readonly address?: string;
  readonly log?: WatchLog;
  /** For the reconnect backoff and the call timeouts (default the system clock). */
  readonly clock?: Clock;
  /** Where DBUS_SYSTEM_BUS_ADDRESS and XDG_RUNTIME_DIR are read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The object to follow and how its properties become a value. */
export interface WatchedObject<T> {
  readonly service: string;
  readonly path: string;
  readonly iface: string;
  /** For log lines: "NetworkManager". */
  readonly name: string;
  /** What bitsd does without it, for log lines: "using the kernel's view". */
  readonly fallback: string;
  /** The value of a full property set, or null when it is unusable (a property missing). */
  view(props: ReadonlyMap<string, DBusValue>): T | null;
  equal(a: T, b: T): boolean;
}

export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 30_000;

const BUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' } as const;
const PROPERTIES = 'org.freedesktop.DBus.Properties';

type Reason = 'no-bus' | 'no-service' | 'unusable' | 'present';

export async function watchProperties<T>(object: WatchedObject<T>, options: WatchOptions = {}): Promise<BusWatch<T | null>> {
  const watcher = new PropertyWatcher(object, options);
  await watcher.start();
  return watcher;
}

class PropertyWatcher<T> implements BusWatch<T | null> {
  readonly #object: WatchedObject<T>;
  readonly #address: string;
  readonly #log: WatchLog;
  readonly #clock: Clock;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #listeners = new Set<() => void>();
  #value: T | null = null;
  #reported: Reason | null = null;
  #stopped = false;
  #conn: BusConnection | null = null;
  #attempt: { abort: AbortController; done: Promise<void> } | null = null;
  #retry: Timer | null = null;
  #backoffMs = FIRST_RETRY_MS;
  #owner: string | null = null;
  /** The sequence number of the last message that told who owns the name. */
  #ownerSeen = 0;
  /** Bumped whenever the owner or the connection changes: late answers for the old one are dropped. */
  #generation = 0;
  #props = new Map<string, DBusValue>();
  /** Signals kept while GetAll is out (null when it is not). */
  #whileReading: Incoming[] | null = null;
  #readAgain = false;

  constructor(object: WatchedObject<T>, options: WatchOptions) {
    this.#object = object;
    this.#env = options.env ?? process.env;
    this.#address = options.address ?? systemBusAddress(this.#env);
    this.#log = options.log ?? (() => {});
    this.#clock = options.clock ?? systemClock;
  }

  async start(): Promise<void> {
    this.#attemptConnect();
    await this.#attempt?.done;
  }

  current(): T | null {
    return this.#value;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#retry?.cancel();
    this.#retry = null;
    // Closing the connection first fails any call the attempt still waits for.
    const attempt = this.#attempt;
    attempt?.abort.abort();
    const conn = this.#conn;
    this.#conn = null;
    await conn?.close();
    await attempt?.done;
    this.#listeners.clear();
  }

  #attemptConnect(): void {
    const abort = new AbortController();
    const attempt = { abort, done: this.#connect(abort.signal) };
    this.#attempt = attempt;
    void attempt.done.finally(() => {
      if (this.#attempt === attempt) this.#attempt = null;
    });
  }

  async #connect(signal: AbortSignal): Promise<void> {
    let conn: BusConnection;
    try {
      conn = await connectBus(this.#address, { clock: this.#clock, signal, env: this.#env });
    } catch (err) {
      if (this.#stopped) return;
      const where = this.#address === DEFAULT_SYSTEM_BUS_ADDRESS ? 'no system bus' : `no system bus at ${this.#address}`;
      this.#report('no-bus', `${where}, so no ${this.#object.name}; ${this.#object.fallback}`, { error: message(err) });
      this.#scheduleRetry();
      return;
    }
    if (this.#stopped) return conn.close();
    this.#conn = conn;
    this.#ownerSeen = 0; // sequence numbers count from 1 on each connection
    conn.onClose((reason) => this.#lost(conn, reason.message));
    conn.onSignal((m) => this.#onSignal(m));
    if (conn.closed) return this.#lost(conn, 'the D-Bus connection closed'); // before onClose was heard
    try {
      const { service, path, iface } = this.#object;
      await this.#addMatch(conn, `type='signal',sender='${BUS.destination}',path='${BUS.path}',interface='${BUS.interface}',member='NameOwnerChanged',arg0='${service}'`);
      await this.#addMatch(conn, `type='signal',sender='${service}',path='${path}',interface='${PROPERTIES}',member='PropertiesChanged',arg0='${iface}'`);
      const owner = await this.#nameOwner(conn);
      // Only a bus that answers resets the backoff: one that refuses the subscription is retried slower and slower.
      this.#backoffMs = FIRST_RETRY_MS;
      if (this.#conn !== conn || owner.sequence < this.#ownerSeen) return; // NameOwnerChanged said it first
      this.#ownerSeen = owner.sequence;
      await this.#setOwner(owner.name);
    } catch (err) {
      // A live bus that will not answer (a timeout, a policy refusal): start over, as for a loss.
      if (this.#conn !== conn) return;
      this.#log('debug', `the system bus did not answer the ${this.#object.name} subscription; reconnecting`, { error: message(err) });
      await conn.close();
    }
  }

  async #addMatch(conn: BusConnection, rule: string): Promise<void> {
    await conn.call({ ...BUS, member: 'AddMatch', signature: 's', body: [rule] });
  }

  async #nameOwner(conn: BusConnection): Promise<{ name: string | null; sequence: number }> {
    try {
      const reply = await conn.call({ ...BUS, member: 'GetNameOwner', signature: 's', body: [this.#object.service] });
      return { name: typeof reply.body[0] === 'string' ? reply.body[0] : null, sequence: reply.sequence };
    } catch (err) {
      if (dbusErrorName(err) !== 'org.freedesktop.DBus.Error.NameHasNoOwner') throw err;
      // The error reply's place in the stream is not known; any NameOwnerChanged seen since wins.
      return { name: null, sequence: this.#ownerSeen };
    }
  }

  /** Follows a new owner of the name (null: none); resolves once its properties are read. */
  #setOwner(owner: string | null): Promise<void> {
    this.#owner = owner;
    this.#generation++;
    this.#props = new Map();
    if (owner !== null) return this.#read();
    this.#publish(null);
    this.#report('no-service', `no ${this.#object.name} on the system bus; ${this.#object.fallback}`);
    return Promise.resolve();
  }

  #lost(conn: BusConnection, reason: string): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.#owner = null;
    this.#generation++;
    this.#props = new Map();
    this.#publish(null);
    if (this.#stopped) return;
    this.#report('no-bus', `lost the system bus (${reason}), so no ${this.#object.name}; ${this.#object.fallback}; reconnecting`);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry !== null) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_RETRY_MS);
    this.#retry = this.#clock.at(this.#clock.now() + delay, () => {
      this.#retry = null;
      if (!this.#stopped) this.#attemptConnect();
    });
  }

  #onSignal(m: Incoming): void {
    const { service, path, iface } = this.#object;
    if (m.member === 'NameOwnerChanged' && m.sender === BUS.destination && m.interface === BUS.interface) {
      const [name, , newOwner] = m.body;
      if (name !== service || typeof newOwner !== 'string') return;
      this.#ownerSeen = m.sequence;
      void this.#setOwner(newOwner === '' ? null : newOwner);
      return;
    }
    if (m.member !== 'PropertiesChanged' || m.interface !== PROPERTIES || m.path !== path || m.body[0] !== iface) return;
    if (this.#owner === null || m.sender !== this.#owner) return;
    if (this.#whileReading !== null) {
      this.#whileReading.push(m);
      return;
    }
    if (this.#applyChanges(m)) void this.#read();
    else this.#publishProps();
  }

  /** Merges a PropertiesChanged into the properties; true when some were invalidated (read again). */
  #applyChanges(m: Incoming): boolean {
    for (const [key, value] of dictEntries(m.body[1])) this.#props.set(key, value);
    const invalidated = m.body[2];
    return Array.isArray(invalidated) && invalidated.length > 0;
  }

  /** Reads every property with GetAll (again, if asked meanwhile), then publishes the value. */
  async #read(): Promise<void> {
    if (this.#whileReading !== null) {
      this.#readAgain = true;
      return;
    }
    const kept: Incoming[] = [];
    this.#whileReading = kept;
    try {
      do {
        this.#readAgain = false;
        const conn = this.#conn;
        const owner = this.#owner;
        const generation = this.#generation;
        if (conn === null || owner === null) return;
        let props: Map<string, DBusValue>;
        let after: number;
        try {
          const reply = await conn.call({ destination: owner, path: this.#object.path, interface: PROPERTIES, member: 'GetAll', signature: 's', body: [this.#object.iface] });
          props = new Map(dictEntries(reply.body[0]));
          after = reply.sequence;
        } catch (err) {
          if (generation !== this.#generation || this.#conn !== conn) continue; // superseded: see #readAgain
          this.#publish(null);
          this.#report('unusable', `${this.#object.name} did not answer GetAll; ${this.#object.fallback}`, { error: message(err) });
          return;
        }
        if (generation !== this.#generation || this.#conn !== conn) continue;
        this.#props = props;
        for (const m of kept.splice(0)) {
          if (m.sequence > after && this.#applyChanges(m)) this.#readAgain = true;
        }
        if (!this.#readAgain) this.#publishProps();
      } while (this.#readAgain);
    } finally {
      this.#whileReading = null;
    }
  }

  #publishProps(): void {
    const value = this.#object.view(this.#props);
    this.#publish(value);
    if (value === null) this.#report('unusable', `${this.#object.name} on the system bus lacks the properties bitsd reads; ${this.#object.fallback}`, { properties: [...this.#props.keys()] });
    else this.#report('present', `${this.#object.name} found on the system bus`, { owner: this.#owner, value });
  }

  #publish(value: T | null): void {
    const same = value === null || this.#value === null ? value === this.#value : this.#object.equal(value, this.#value);
    if (same) return;
    this.#value = value;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (err) {
        this.#log('warn', `a ${this.#object.name} change listener threw`, { error: message(err) });
      }
    }
  }

  /** Logs why the value is what it is, once per reason in a row. */
  #report(reason: Reason, text: string, fields?: Record<string, unknown>): void {
    if (this.#reported === reason) return;
    this.#reported = reason;
    this.#log('debug', text, fields);
  }
}

/** The [name, value] pairs of an a{sv}, variants unwrapped; anything else gives none. */
function dictEntries(dict: DBusValue | undefined): [string, DBusValue][] {
  if (!Array.isArray(dict)) return [];
  const out: [string, DBusValue][] = [];
  for (const entry of dict as readonly DBusValue[]) {
    if (!Array.isArray(entry)) continue;
    const [key, value] = entry as readonly DBusValue[];
    if (typeof key === 'string' && value !== undefined && typeof value === 'object' && !Array.isArray(value) && isVariant(value)) out.push([key, value.value]);
  }
  return out;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
