/**
 * BITS upload protocol vocabulary ([MC-BUP]; bits-protocol.md §1-§3). Pure data: no I/O.
 *
 * Header names are lower case: HTTP names are case-insensitive, HttpResponse headers arrive lower
 * cased, and one spelling lets custom headers be de-duplicated against protocol headers with a
 * plain key comparison.
 */

/** The extension method of every BITS upload request. */
export const BITS_METHOD = 'BITS_POST';

/**
 * "BITS 1.5 Upload Protocol", the only protocol defined. Sent exactly like this (lower case, braces,
 * alone): an observed open-source server fails on lists or upper case (bits-protocol.md §13).
 */
export const UPLOAD_PROTOCOL_GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

/** Request packet types, in the MSDN spelling that real Windows clients send (§1). */
export const PACKET_TYPES = ['Ping', 'Create-Session', 'Fragment', 'Close-Session', 'Cancel-Session'] as const;
export type PacketType = (typeof PACKET_TYPES)[number];

export const HEADER = {
  packetType: 'bits-packet-type',
  supportedProtocols: 'bits-supported-protocols',
  protocol: 'bits-protocol',
  sessionId: 'bits-session-id',
  hostId: 'bits-host-id',
  hostIdFallbackTimeout: 'bits-host-id-fallback-timeout',
  receivedContentRange: 'bits-received-content-range',
  replyUrl: 'bits-reply-url',
  errorCode: 'bits-error-code',
  /** [MC-BUP] §2.2.1 spelling of the error header; MSDN and real servers use bits-error-code. */
  errorCodeAlt: 'bits-error',
  errorContext: 'bits-error-context',
  contentRange: 'content-range',
  contentLength: 'content-length',
  contentName: 'content-name',
  authorization: 'authorization',
} as const;

/** "The session id is any HTTP-legal string up to 100 characters" (W:ack-for-create-session). */
export const MAX_SESSION_ID_LENGTH = 100;

/** A header value SHOULD NOT exceed 4 KB ([MC-BUP] §2.2.1); longer reply URLs or host ids are refused. */
export const MAX_HEADER_VALUE_LENGTH = 4096;
