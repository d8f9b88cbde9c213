/**
 * Request packet builders (bits-protocol.md §2): each returns the method and headers of one
 * BITS_POST request. Bodies are the caller's business (only Fragment has one). Pure.
 *
 * `extra` carries the job-level headers (parsed custom headers, Authorization): they are merged
 * first, so a protocol header always wins over a custom header of the same name.
 */
import { BITS_METHOD, HEADER, type PacketType, UPLOAD_PROTOCOL_GUID } from './constants.js';
import { mergeHeaders } from './headers.js';
import { type ByteRange, contentRange, rangeLength } from './ranges.js';

export interface BitsRequest {
  readonly method: typeof BITS_METHOD;
  readonly packetType: PacketType;
  readonly headers: Readonly<Record<string, string>>;
}

type Extra = Readonly<Record<string, string>>;

function packet(packetType: PacketType, own: Record<string, string>, extra: Extra): BitsRequest {
  return {
    method: BITS_METHOD,
    packetType,
    headers: mergeHeaders(extra, { [HEADER.packetType]: packetType, ...own }),
  };
}

/**
 * Ping, Close-Session and Cancel-Session have no body; "Content-Length: 0" is sent explicitly
 * because some servers (e.g. a TransferVM-style lighttpd module) treat a body-less POST without
 * it as malformed, and it keeps the connection reusable whatever the server assumes.
 */
const NO_BODY = { [HEADER.contentLength]: '0' } as const;

export function pingPacket(extra: Extra = {}): BitsRequest {
  return packet('Ping', { ...NO_BODY }, extra);
}

export function createSessionPacket(extra: Extra = {}): BitsRequest {
  return packet('Create-Session', { ...NO_BODY, [HEADER.supportedProtocols]: UPLOAD_PROTOCOL_GUID }, extra);
}

export interface FragmentSpec {
  readonly sessionId: string;
  readonly range: ByteRange;
  /** Size of the whole file. */
  readonly total: number;
  /** Bare local file name (no directories); sent as Content-Name on the fragment at offset 0 only. */
  readonly fileName: string | null;
}

export function fragmentPacket(spec: FragmentSpec, extra: Extra = {}): BitsRequest {
  const own: Record<string, string> = {
    [HEADER.sessionId]: spec.sessionId,
    [HEADER.contentRange]: contentRange(spec.range, spec.total),
    [HEADER.contentLength]: String(rangeLength(spec.range)),
  };
  if (spec.range.first === 0 && spec.fileName !== null && spec.fileName !== '') {
    own[HEADER.contentName] = contentNameValue(spec.fileName);
  }
  return packet('Fragment', own, extra);
}

export function closeSessionPacket(sessionId: string, extra: Extra = {}): BitsRequest {
  return packet('Close-Session', { ...NO_BODY, [HEADER.sessionId]: sessionId }, extra);
}

export function cancelSessionPacket(sessionId: string, extra: Extra = {}): BitsRequest {
  return packet('Cancel-Session', { ...NO_BODY, [HEADER.sessionId]: sessionId }, extra);
}

/**
 * Content-Name is "the local file name without path". A name is sent as-is when it is printable
 * ASCII; otherwise (non-ASCII, control characters) it is percent-encoded as UTF-8, '%' included,
 * because raw bytes above 0x7F are not portable in header values and controls would break framing.
 */
export function contentNameValue(fileName: string): string {
  const bare = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  if (/^[\x20-\x7e]*$/.test(bare)) return bare;
  let out = '';
  for (const byte of Buffer.from(bare, 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
