/**
 * What the server saw, for tests to assert on: one entry per BITS_POST packet, one per other
 * request, and running counters. Entries are filled in as requests are answered, so read them
 * after the client has its answer.
 */
import type { PacketKind } from './faults.js';
import type { FragmentRange } from './ranges.js';

/** How a request ended: an HTTP status, a deliberate reset, a stall, or the client going away. */
export type Outcome = number | 'reset' | 'stalled' | 'aborted' | 'pending';

/** The TCP connection a request came over. */
export interface ConnectionFields {
  /** Per-server connection number, from 1 in accept order: equal numbers mean one connection. */
  readonly connection: number;
  /** The client's port on that connection (a proxy's, when one is in between). */
  readonly remotePort: number | undefined;
}

export interface PacketLogEntry extends ConnectionFields {
  readonly seq: number;
  /** Date.now() when the head arrived. */
  readonly time: number;
  /** BITS-Packet-Type exactly as sent ('' when missing). */
  readonly packetType: string;
  readonly kind: PacketKind | 'unknown';
  /** The request-target as sent. */
  readonly target: string;
  readonly sessionId: string | undefined;
  /** Lower-cased names; repeats joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Fragments: the Content-Range header as sent, and parsed (undefined when malformed). */
  readonly contentRange: string | undefined;
  readonly range: FragmentRange | undefined;
  readonly contentLength: number | undefined;
  /** The session the Ack named (Create-Session: the new id). */
  answeredSessionId: string | undefined;
  outcome: Outcome;
  /** BITS-Error-Code of the Ack, when it had one. */
  errorCode: string | undefined;
  /** The fault rule applied to this packet, if any. */
  fault: string | undefined;
}

export interface RequestLogEntry extends ConnectionFields {
  readonly seq: number;
  readonly time: number;
  readonly method: string;
  readonly target: string;
  readonly range: string | undefined;
  outcome: Outcome;
  fault: string | undefined;
}

export interface ServerStats {
  sessionsCreated: number;
  /** Uploads whose last byte arrived and that were renamed into place. */
  sessionsCompleted: number;
  sessionsClosed: number;
  sessionsCancelled: number;
  /** New bytes written to upload files (overlaps not counted twice). */
  bytesStored: number;
  /** Root-relative paths of completed uploads, in completion order. */
  completedUploads: string[];
  /** Bytes swallowed by the /__sink route. */
  sinkBytes: number;
}

export class ServerLog {
  readonly packets: PacketLogEntry[] = [];
  readonly requests: RequestLogEntry[] = [];
  readonly stats: ServerStats = ServerLog.#emptyStats();
  #seq = 0;

  static #emptyStats(): ServerStats {
    return {
      sessionsCreated: 0,
      sessionsCompleted: 0,
      sessionsClosed: 0,
      sessionsCancelled: 0,
      bytesStored: 0,
      completedUploads: [],
      sinkBytes: 0,
    };
  }

  nextSeq(): number {
    this.#seq += 1;
    return this.#seq;
  }

  clear(): void {
    this.packets.length = 0;
    this.requests.length = 0;
    Object.assign(this.stats, ServerLog.#emptyStats());
  }
}
