/**
 * Fault plans: scripted misbehaviour for client tests. A plan holds, per packet type (and `get`
 * for static-file downloads), a list of rules consumed in order; each rule applies to the next
 * `times` packets of that type (default 1, or "forever"), then the next rule takes over; when the
 * list is used up, packets are served normally.
 *
 *   { 'cancel-session': [{ kind: 'status', status: 503, times: 3 }] }        first 3 get 503
 *   { 'cancel-session': [{ kind: 'status', status: 503, times: 'forever' }] } every one gets 503
 *
 * The same shape is accepted as JSON by `bits-server --faults FILE` (parseFaultPlan).
 */
import { type HresultCode, HRESULTS, parseHresult } from '../shared/hresult.js';

export const PACKET_KINDS = ['ping', 'create-session', 'fragment', 'close-session', 'cancel-session'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];
/** Packet kinds plus `get`: GET/HEAD of static files and reply URLs. */
export type FaultTarget = PacketKind | 'get';
export const FAULT_TARGETS: readonly FaultTarget[] = [...PACKET_KINDS, 'get'];

/** An HRESULT as a number, a hex string ("0x8020001F") or a symbolic name ("BG_E_SESSION_NOT_FOUND"). */
export type ErrorCodeSpec = number | string;

export type Fault =
  /**
   * Answer with this status instead of serving the packet. Non-2xx answers carry BITS-Error-Code
   * (default BG_E_HTTP_ERROR_<status>; null leaves both error headers out) and BITS-Error-Context
   * (default 0x5). apply: serve the packet first (e.g. store the fragment), then answer this.
   */
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly errorCode?: ErrorCodeSpec | null;
      readonly errorContext?: number;
      readonly apply?: boolean;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
    }
  /**
   * Reset the connection (TCP RST) after reading `afterBodyBytes` of the request body (default
   * 0). Fragments: with store (default true) those bytes are written like a real server would
   * before the connection died. get: reset after that many bytes of the response body.
   */
  | { readonly kind: 'reset'; readonly afterBodyBytes?: number; readonly store?: boolean }
  /** Serve the packet fully, then reset instead of sending the Ack (a lost Ack). */
  | { readonly kind: 'drop-ack' }
  /** Read the request, then never answer; with delayMs, serve it normally after that delay. */
  | { readonly kind: 'stall'; readonly delayMs?: number }
  /**
   * Fragments: serve normally but lie in BITS-Received-Content-Range: truth + delta, or the raw
   * `value` (garbage, or an absolute number as text).
   */
  | { readonly kind: 'received-range'; readonly delta?: number; readonly value?: string }
  /** Serve normally but leave this header out of the answer (Content-Length: the connection closes). */
  | { readonly kind: 'omit-header'; readonly header: string }
  /**
   * Serve normally, then close the kept-alive connection after the answer: with `Connection:
   * close` in it (default, as a server at its keep-alive request limit does), or, with announce
   * false, without a word (a plain FIN after the answer, as an idle timeout does).
   */
  | { readonly kind: 'close'; readonly announce?: boolean };

export type FaultRule = Fault & { readonly times?: number | 'forever' };

export type FaultPlan = {
  readonly [K in FaultTarget]?: readonly FaultRule[];
} & {
  /** Upload-reply: the Ack of the final fragment (the one carrying BITS-Reply-URL) waits this long. */
  readonly replyDelayMs?: number;
};

interface QueuedRule {
  readonly fault: Fault;
  remaining: number;
}

/** The live state of a plan: what is left of each list. */
export class FaultQueue {
  #queues = new Map<FaultTarget, QueuedRule[]>();
  #replyDelayMs = 0;

  constructor(plan: FaultPlan = {}) {
    this.set(plan);
  }

  /** Replaces the whole plan (rules already consumed are forgotten). Throws on an invalid plan. */
  set(plan: FaultPlan): void {
    const checked = parseFaultPlan(plan);
    const queues = new Map<FaultTarget, QueuedRule[]>();
    for (const target of FAULT_TARGETS) {
      const rules = checked[target] ?? [];
      queues.set(
        target,
        rules.map((rule) => {
          const { times, ...fault } = rule;
          return { fault: fault as Fault, remaining: times === 'forever' ? Number.POSITIVE_INFINITY : (times ?? 1) };
        }),
      );
    }
    this.#queues = queues;
    this.#replyDelayMs = checked.replyDelayMs ?? 0;
  }

  get replyDelayMs(): number {
    return this.#replyDelayMs;
  }

  /** The fault for the next packet of this type, consuming one use of it; undefined = serve normally. */
  take(target: FaultTarget): Fault | undefined {
    const queue = this.#queues.get(target);
    const head = queue?.[0];
    if (queue === undefined || head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  /** How many uses are left for a target (Infinity for "forever"). */
  pending(target: FaultTarget): number {
    return (this.#queues.get(target) ?? []).reduce((sum, r) => sum + r.remaining, 0);
  }
}

/** Resolves an ErrorCodeSpec to its numeric HRESULT; throws for unknown names or bad text. */
export function resolveErrorCode(spec: ErrorCodeSpec): number {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > 0xffffffff) throw new Error(`bad error code ${spec}`);
    return spec >>> 0;
  }
  if (Object.hasOwn(HRESULTS, spec)) return HRESULTS[spec as Exclude<HresultCode, `BG_E_HTTP_ERROR_${number}`>].value;
  const parsed = parseHresult(spec);
  if (parsed === undefined) throw new Error(`bad error code ${JSON.stringify(spec)}`);
  return parsed;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalNumber(rule: Record<string, unknown>, key: string, where: string, min = 0): void {
  const v = rule[key];
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) {
    throw new Error(`${where}.${key} must be a number >= ${min}`);
  }
}

function checkRule(raw: unknown, where: string): FaultRule {
  if (!isRecord(raw)) throw new Error(`${where} must be an object`);
  const times = raw.times;
  if (times !== undefined && times !== 'forever' && !(typeof times === 'number' && Number.isInteger(times) && times >= 1)) {
    throw new Error(`${where}.times must be a positive integer or "forever"`);
  }
  switch (raw.kind) {
    case 'status': {
      const status = raw.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
        throw new Error(`${where}.status must be an HTTP status (100-599)`);
      }
      if (raw.errorCode !== undefined && raw.errorCode !== null) {
        if (typeof raw.errorCode !== 'number' && typeof raw.errorCode !== 'string') {
          throw new Error(`${where}.errorCode must be a number or a string`);
        }
        resolveErrorCode(raw.errorCode);
      }
      optionalNumber(raw, 'errorContext', where);
      if (raw.apply !== undefined && typeof raw.apply !== 'boolean') throw new Error(`${where}.apply must be a boolean`);
      if (raw.body !== undefined && typeof raw.body !== 'string') throw new Error(`${where}.body must be a string`);
      if (raw.headers !== undefined) {
        if (!isRecord(raw.headers) || Object.values(raw.headers).some((v) => typeof v !== 'string')) {
          throw new Error(`${where}.headers must map names to strings`);
        }
      }
      break;
    }
    case 'reset':
      optionalNumber(raw, 'afterBodyBytes', where);
      if (raw.store !== undefined && typeof raw.store !== 'boolean') throw new Error(`${where}.store must be a boolean`);
      break;
    case 'drop-ack':
      break;
    case 'stall':
      optionalNumber(raw, 'delayMs', where);
      break;
    case 'received-range':
      if (raw.delta !== undefined && (typeof raw.delta !== 'number' || !Number.isInteger(raw.delta))) {
        throw new Error(`${where}.delta must be an integer`);
      }
      if (raw.value !== undefined && typeof raw.value !== 'string') throw new Error(`${where}.value must be a string`);
      if ((raw.delta === undefined) === (raw.value === undefined)) throw new Error(`${where} needs exactly one of delta, value`);
      break;
    case 'omit-header':
      if (typeof raw.header !== 'string' || raw.header === '') throw new Error(`${where}.header must be a header name`);
      break;
    case 'close':
      if (raw.announce !== undefined && typeof raw.announce !== 'boolean') throw new Error(`${where}.announce must be a boolean`);
      break;
    default:
      throw new Error(`${where}.kind must be one of status, reset, drop-ack, stall, received-range, omit-header, close`);
  }
  return raw as FaultRule;
}

/** Validates a plan (an object from code or from JSON.parse); throws an Error naming the bad field. */
export function parseFaultPlan(raw: unknown): FaultPlan {
  if (!isRecord(raw)) throw new Error('fault plan must be an object');
  const plan: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'replyDelayMs') {
      optionalNumber(raw, key, 'faults');
      plan[key] = value;
      continue;
    }
    if (!(FAULT_TARGETS as readonly string[]).includes(key)) {
      throw new Error(`unknown fault target ${JSON.stringify(key)} (expected ${FAULT_TARGETS.join(', ')}, replyDelayMs)`);
    }
    if (!Array.isArray(value)) throw new Error(`faults.${key} must be an array of rules`);
    plan[key] = value.map((rule: unknown, i) => checkRule(rule, `faults.${key}[${i}]`));
  }
  return plan as FaultPlan;
}
