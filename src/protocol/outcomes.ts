/**
 * The outcome table: what an Ack (packet type, HTTP status, BITS-Error-Code) means for the client,
 * as data. classifyAck walks OUTCOME_TABLE top to bottom and the first matching row decides; every
 * status 0..999 matches some row. Sources: bits-protocol.md §4 (ERROR state), §5 (416, 413), §8
 * (the [MC-BUP] §3.1.5.2.1 table and the Close/Cancel Ack rules), plus one row of bitsd's own: 429
 * is transient for every packet (docs/decisions.md). Pure.
 *
 * Actions:
 * - success: the packet did what it should (packet-specific headers still need reading).
 * - resume-from-range: 416 on a Fragment; BITS-Received-Content-Range is the next offset.
 * - restart-session: BG_E_SESSION_NOT_FOUND; start over with a new Create-Session from byte 0.
 * - end-retries: Close/Cancel answers that must not be resent; the session is finished either way.
 * - shrink-fragment: 413 on a Fragment; resend with a smaller fragment.
 * - transient: report a transient error; a later retry may succeed.
 * - fatal: report an error; retrying the same request cannot succeed.
 */
import { ERROR_CONTEXTS, type ErrorContext, hresultOf, httpErrorHresult, isSuccess } from '../shared/hresult.js';
import { readBitsError, readPacketType } from './ack.js';
import type { PacketType } from './constants.js';

export const ACK_ACTIONS = [
  'success',
  'resume-from-range',
  'restart-session',
  'end-retries',
  'shrink-fragment',
  'transient',
  'fatal',
] as const;
export type AckAction = (typeof ACK_ACTIONS)[number];

/** Where a non-success row takes the error's HRESULT from. */
export type HresultSource =
  /** The server's BITS-Error-Code when it is a failure HRESULT, else BG_E_HTTP_ERROR_<status>. */
  | 'server-or-http'
  /** Always BG_E_HTTP_ERROR_<status> (401/407: the status is the whole story). */
  | 'http'
  /** BG_E_INVALID_SERVER_RESPONSE: the answer is not a BITS Ack. */
  | 'invalid-response';

export interface OutcomeRow {
  /** Stable name, for logs and tests. */
  readonly name: string;
  readonly packets: readonly PacketType[];
  /** Inclusive status ranges. */
  readonly statuses: ReadonlyArray<readonly [number, number]>;
  /** BITS-Packet-Type of the answer: 'any', or one of readPacketType's results. */
  readonly packetType: 'any' | 'ack' | 'missing' | 'other';
  /** BITS-Error-Code condition. */
  readonly errorCode: 'any' | 'BG_E_SESSION_NOT_FOUND' | 'BG_E_TOO_LARGE';
  readonly action: AckAction;
  readonly hresult: HresultSource | null;
  readonly why: string;
}

const ALL: readonly PacketType[] = ['Ping', 'Create-Session', 'Fragment', 'Close-Session', 'Cancel-Session'];
const SESSION_PACKETS: readonly PacketType[] = ['Ping', 'Create-Session', 'Fragment'];
const END_PACKETS: readonly PacketType[] = ['Close-Session', 'Cancel-Session'];
const NOT_2XX: ReadonlyArray<readonly [number, number]> = [[0, 199], [300, 999]];

export const OUTCOME_TABLE: readonly OutcomeRow[] = [
  { name: 'not-an-ack', packets: ALL, statuses: [[0, 999]], packetType: 'other', errorCode: 'any', action: 'fatal', hresult: 'invalid-response', why: 'Every BITS answer is an Ack; another packet type means the server does not speak the protocol.' },
  { name: 'success', packets: ALL, statuses: [[200, 299]], packetType: 'ack', errorCode: 'any', action: 'success', hresult: null, why: '200/201 Ack. BITS-Error-Code is ignored on success: small servers send "0x0" or "1" there.' },
  { name: 'success-not-ack', packets: ALL, statuses: [[200, 299]], packetType: 'missing', errorCode: 'any', action: 'fatal', hresult: 'invalid-response', why: 'A 2xx without BITS-Packet-Type: Ack comes from a server that is not a BITS server.' },
  { name: 'session-not-found', packets: SESSION_PACKETS, statuses: NOT_2XX, packetType: 'any', errorCode: 'BG_E_SESSION_NOT_FOUND', action: 'restart-session', hresult: 'server-or-http', why: '[MC-BUP] 3.1.5.2.1: restart the upload with a new Create-Session.' },
  { name: 'end-session-not-found', packets: END_PACKETS, statuses: NOT_2XX, packetType: 'any', errorCode: 'BG_E_SESSION_NOT_FOUND', action: 'end-retries', hresult: 'server-or-http', why: 'The server no longer knows the session: nothing left to close or cancel.' },
  { name: 'rate-limited', packets: ALL, statuses: [[429, 429]], packetType: 'any', errorCode: 'any', action: 'transient', hresult: 'server-or-http', why: '429 Too Many Requests (RFC 6585 §4) says "later", after its Retry-After: resent like a 5xx. Newer than the [MC-BUP] table; a bitsd decision (docs/decisions.md).' },
  { name: 'end-server-error', packets: END_PACKETS, statuses: [[500, 599]], packetType: 'any', errorCode: 'any', action: 'transient', hresult: 'server-or-http', why: 'Ack for Close/Cancel-Session: the client resends on 500-599.' },
  { name: 'end-no-retry', packets: END_PACKETS, statuses: [[0, 199], [300, 499], [600, 999]], packetType: 'any', errorCode: 'any', action: 'end-retries', hresult: 'server-or-http', why: 'Ack for Close/Cancel-Session: no retry for 100-499.' },
  { name: 'too-large', packets: SESSION_PACKETS, statuses: NOT_2XX, packetType: 'any', errorCode: 'BG_E_TOO_LARGE', action: 'fatal', hresult: 'server-or-http', why: 'The file exceeds the server\'s maximum upload size: report, whatever the status (bits4j: 500).' },
  { name: 'fragment-range', packets: ['Fragment'], statuses: [[416, 416]], packetType: 'any', errorCode: 'any', action: 'resume-from-range', hresult: 'server-or-http', why: 'Non-contiguous fragment: BITS-Received-Content-Range is where the server wants the next byte.' },
  { name: 'fragment-too-large', packets: ['Fragment'], statuses: [[413, 413]], packetType: 'any', errorCode: 'any', action: 'shrink-fragment', hresult: 'server-or-http', why: '[MC-BUP] 3.1.5.2.4: retry with smaller fragments until 413 stops.' },
  { name: 'auth-required', packets: SESSION_PACKETS, statuses: [[401, 401], [407, 407]], packetType: 'any', errorCode: 'any', action: 'fatal', hresult: 'http', why: 'Credentials are sent pre-emptively; a 401/407 means none are usable or they were rejected.' },
  { name: 'server-transient', packets: SESSION_PACKETS, statuses: [[500, 500], [502, 504], [506, 599]], packetType: 'any', errorCode: 'any', action: 'transient', hresult: 'server-or-http', why: '5xx is transient except 501 and 505.' },
  { name: 'server-fatal', packets: SESSION_PACKETS, statuses: [[501, 501], [505, 505]], packetType: 'any', errorCode: 'any', action: 'fatal', hresult: 'server-or-http', why: '501 (uploads not enabled) and 505 (HTTP version) will not change on retry.' },
  { name: 'client-fatal', packets: SESSION_PACKETS, statuses: [[100, 499]], packetType: 'any', errorCode: 'any', action: 'fatal', hresult: 'server-or-http', why: '1xx-4xx: the server refused this request (403 no right, 404 no URL, 409 file exists, ...).' },
  { name: 'bad-status', packets: SESSION_PACKETS, statuses: [[0, 99], [600, 999]], packetType: 'any', errorCode: 'any', action: 'fatal', hresult: 'invalid-response', why: 'Not an HTTP status.' },
];

export interface AckError {
  readonly hresult: number;
  readonly context: ErrorContext;
  readonly status: number;
  /** The server's BITS-Error-Code value as sent, when present. */
  readonly serverCode: string | null;
  /** The Retry-After header as sent, when present (retry-after.ts reads it). */
  readonly retryAfter: string | null;
  readonly message: string;
}

export interface AckOutcome {
  readonly action: AckAction;
  /** The OUTCOME_TABLE row that matched. */
  readonly row: string;
  readonly status: number;
  /** What to report if this outcome ends the attempt; null for success. */
  readonly error: AckError | null;
}

const SESSION_NOT_FOUND = hresultOf('BG_E_SESSION_NOT_FOUND');
const TOO_LARGE = hresultOf('BG_E_TOO_LARGE');
const INVALID_RESPONSE = hresultOf('BG_E_INVALID_SERVER_RESPONSE');

function matches(row: OutcomeRow, packet: PacketType, status: number, packetType: string, code: number | null): boolean {
  if (!row.packets.includes(packet)) return false;
  if (!row.statuses.some(([lo, hi]) => status >= lo && status <= hi)) return false;
  if (row.packetType !== 'any' && row.packetType !== packetType) return false;
  if (row.errorCode === 'BG_E_SESSION_NOT_FOUND') return code === SESSION_NOT_FOUND;
  if (row.errorCode === 'BG_E_TOO_LARGE') return code === TOO_LARGE;
  return true;
}

export function findOutcomeRow(packet: PacketType, status: number, headers: Readonly<Record<string, string | undefined>>): OutcomeRow | undefined {
  const packetType = readPacketType(headers);
  const { hresult } = readBitsError(headers);
  return OUTCOME_TABLE.find((row) => matches(row, packet, status, packetType, hresult));
}

/** Classifies one Ack. Never throws; a status outside every row is an invalid response. */
export function classifyAck(packet: PacketType, status: number, headers: Readonly<Record<string, string | undefined>>): AckOutcome {
  const safeStatus = Number.isInteger(status) ? status : -1;
  const row = findOutcomeRow(packet, safeStatus, headers);
  if (row === undefined) {
    return {
      action: 'fatal',
      row: 'no-row',
      status: safeStatus,
      error: { hresult: INVALID_RESPONSE, context: 'REMOTE_FILE', status: safeStatus, serverCode: null, retryAfter: null, message: `The server answered ${packet} with HTTP status ${String(status)}.` },
    };
  }
  if (row.hresult === null) return { action: row.action, row: row.name, status: safeStatus, error: null };
  const bitsError = readBitsError(headers);
  let hresult: number;
  if (row.hresult === 'invalid-response') hresult = INVALID_RESPONSE;
  else if (row.hresult === 'server-or-http' && bitsError.hresult !== null && !isSuccess(bitsError.hresult)) hresult = bitsError.hresult;
  else hresult = httpErrorHresult(safeStatus);
  const context: ErrorContext = bitsError.context ?? 'REMOTE_FILE';
  const code = bitsError.raw === null ? '' : ` (BITS-Error-Code ${bitsError.raw.slice(0, 20)}, context 0x${ERROR_CONTEXTS[context].toString(16)})`;
  const message =
    row.hresult === 'invalid-response'
      ? `The server's answer to ${packet} (HTTP ${safeStatus}) is not a BITS Ack.`
      : `The server answered ${packet} with HTTP ${safeStatus}${code}.`;
  const retryAfter = headers['retry-after'] ?? null;
  return { action: row.action, row: row.name, status: safeStatus, error: { hresult, context, status: safeStatus, serverCode: bitsError.raw, retryAfter, message } };
}
