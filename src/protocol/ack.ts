/**
 * Ack readers: (status, headers) -> {ok: true, ...} | {ok: false, reason}. Pure and total: any
 * header value, however malformed, yields a result, never an exception. Headers are the transport's
 * lower-cased map. A failed read always means BG_E_INVALID_SERVER_RESPONSE (0x8020001B) to the
 * caller; `reason` and `detail` say which rule the server broke, for logs and tests.
 */
import type { ErrorContext } from '../shared/hresult.js';
import { contextFromValue, parseHresult } from '../shared/hresult.js';
import { HEADER, MAX_HEADER_VALUE_LENGTH, MAX_SESSION_ID_LENGTH, UPLOAD_PROTOCOL_GUID } from './constants.js';
import { parseByteCount } from './ranges.js';

type Headers = Readonly<Record<string, string | undefined>>;

export type AckFailureReason =
  | 'missing-session-id'
  | 'bad-session-id'
  | 'wrong-protocol'
  | 'bad-host-id'
  | 'bad-host-id-fallback-timeout'
  | 'missing-received-range'
  | 'bad-received-range'
  | 'bad-reply-url';

export interface AckFailure {
  readonly ok: false;
  readonly reason: AckFailureReason;
  readonly detail: string;
}

function fail(reason: AckFailureReason, detail: string): AckFailure {
  return { ok: false, reason, detail };
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : value.trim();
}

/** Quotes a server value for a message, bounded (a hostile server must not blow up logs). */
function shown(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}...` : value);
}

/** 'ack' for any spelling of "Ack", 'missing' when absent, 'other' for anything else. */
export function readPacketType(headers: Headers): 'ack' | 'missing' | 'other' {
  const value = header(headers, HEADER.packetType);
  if (value === undefined || value === '') return 'missing';
  return value.toLowerCase() === 'ack' ? 'ack' : 'other';
}

export interface BitsErrorHeaders {
  /** The server's HRESULT, or null when absent or not hex. */
  readonly hresult: number | null;
  /** The raw header value (for logs) when present. */
  readonly raw: string | null;
  /** REMOTE_FILE (0x5) or REMOTE_APPLICATION (0x7); null when absent or any other value. */
  readonly context: ErrorContext | null;
}

/**
 * BITS-Error-Code (or [MC-BUP]'s BITS-Error) and BITS-Error-Context. Lenient: "0x8020001F",
 * "x80070057" and "8020001f" all parse; an unparsable value counts as absent, so the caller falls
 * back to the HTTP status (more useful than "invalid response" when the status already says why).
 */
export function readBitsError(headers: Headers): BitsErrorHeaders {
  const raw = header(headers, HEADER.errorCode) ?? header(headers, HEADER.errorCodeAlt) ?? null;
  const hresult = raw === null ? null : (parseHresult(raw) ?? null);
  const ctxRaw = header(headers, HEADER.errorContext);
  let context: ErrorContext | null = null;
  if (ctxRaw !== undefined) {
    const value = parseHresult(ctxRaw);
    const named = value === undefined ? undefined : contextFromValue(value);
    if (named === 'REMOTE_FILE' || named === 'REMOTE_APPLICATION') context = named;
  }
  return { hresult, raw, context };
}

/**
 * A session id bitsd can echo byte for byte: 1-100 characters of printable ASCII (HTAB and inner
 * spaces allowed). Anything else cannot be sent back safely in a header.
 */
export function isValidSessionId(value: string): boolean {
  return value.length > 0 && value.length <= MAX_SESSION_ID_LENGTH && /^[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?$/.test(value);
}

/** A host name, IPv4 or bracketed IPv6 address, optionally with ":port"; nothing that alters a URL. */
export function isValidHostId(value: string): boolean {
  return value.length > 0 && value.length <= 255 && /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(value);
}

export interface CreateSessionAck {
  readonly ok: true;
  readonly sessionId: string;
  /** The server's BITS-Host-Id: later packets of the session go to this host. */
  readonly hostId: string | null;
  /** Seconds to keep trying hostId before falling back to the original host; null = never fall back. */
  readonly hostIdFallbackTimeoutSec: number | null;
}

export function readCreateSessionAck(headers: Headers): CreateSessionAck | AckFailure {
  const sessionId = header(headers, HEADER.sessionId);
  if (sessionId === undefined || sessionId === '') return fail('missing-session-id', 'The Create-Session Ack has no BITS-Session-Id.');
  if (!isValidSessionId(sessionId)) return fail('bad-session-id', `BITS-Session-Id ${shown(sessionId)} is not an HTTP-legal string of at most 100 characters.`);
  const protocol = header(headers, HEADER.protocol);
  // Absent is tolerated (some small servers omit it); a different protocol is not one bitsd speaks.
  if (protocol !== undefined && normaliseGuid(protocol) !== normaliseGuid(UPLOAD_PROTOCOL_GUID)) {
    return fail('wrong-protocol', `The server chose BITS-Protocol ${shown(protocol)}, which bitsd did not offer.`);
  }
  const hostId = header(headers, HEADER.hostId);
  if (hostId === undefined || hostId === '') return { ok: true, sessionId, hostId: null, hostIdFallbackTimeoutSec: null };
  if (!isValidHostId(hostId)) return fail('bad-host-id', `BITS-Host-Id ${shown(hostId)} is not a host name or address.`);
  const timeoutRaw = header(headers, HEADER.hostIdFallbackTimeout);
  if (timeoutRaw === undefined || timeoutRaw === '') return { ok: true, sessionId, hostId, hostIdFallbackTimeoutSec: null };
  const timeout = parseByteCount(timeoutRaw);
  if (timeout === undefined) return fail('bad-host-id-fallback-timeout', `BITS-Host-Id-Fallback-Timeout ${shown(timeoutRaw)} is not a number of seconds.`);
  return { ok: true, sessionId, hostId, hostIdFallbackTimeoutSec: timeout };
}

function normaliseGuid(value: string): string {
  return value.trim().replace(/^\{|\}$/g, '').toLowerCase();
}

export interface ReceivedRange {
  readonly ok: true;
  /** The next byte the server wants (one past the last byte it holds). */
  readonly offset: number;
}

/**
 * BITS-Received-Content-Range: the truth about what the server holds, on 200 and on 416. It must be
 * a decimal integer within 0..total; anything else means the server and bitsd no longer agree on
 * what the file is, and continuing would corrupt it.
 */
export function readReceivedRange(headers: Headers, total: number): ReceivedRange | AckFailure {
  const raw = header(headers, HEADER.receivedContentRange);
  if (raw === undefined || raw === '') return fail('missing-received-range', 'The Fragment Ack has no BITS-Received-Content-Range.');
  const offset = parseByteCount(raw);
  if (offset === undefined) return fail('bad-received-range', `BITS-Received-Content-Range ${shown(raw)} is not a byte offset.`);
  if (offset > total) return fail('bad-received-range', `BITS-Received-Content-Range ${offset} is past the end of the ${total}-byte file.`);
  return { ok: true, offset };
}

export interface FragmentAck {
  readonly ok: true;
  readonly offset: number;
  /** BITS-Reply-URL as sent (resolve with resolveReplyUrl), or null. */
  readonly replyUrl: string | null;
}

export function readFragmentAck(headers: Headers, total: number): FragmentAck | AckFailure {
  const range = readReceivedRange(headers, total);
  if (!range.ok) return range;
  const reply = header(headers, HEADER.replyUrl);
  return { ok: true, offset: range.offset, replyUrl: reply === undefined || reply === '' ? null : reply };
}

export interface ResolvedUrl {
  readonly ok: true;
  readonly url: URL;
}

/**
 * BITS-Reply-URL resolved against the upload URL (it may be relative). Only http and https are
 * followed: the reply is fetched with a plain GET, and a file: or other scheme from a server would
 * make bitsd read something the server has no business pointing at.
 */
export function resolveReplyUrl(value: string, base: URL): ResolvedUrl | AckFailure {
  if (value.length > MAX_HEADER_VALUE_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    return fail('bad-reply-url', 'BITS-Reply-URL is too long or contains control characters.');
  }
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return fail('bad-reply-url', `BITS-Reply-URL ${shown(value)} is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail('bad-reply-url', `BITS-Reply-URL ${shown(value)} is not an http or https URL.`);
  }
  url.hash = '';
  return { ok: true, url };
}
