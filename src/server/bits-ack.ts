/**
 * Ack packets (pure). Every answer to a BITS_POST is an Ack: BITS-Packet-Type: Ack, and on any
 * status other than 200/201 also BITS-Error-Code (0x%08X) and BITS-Error-Context (0x5 = the
 * server, 0x7 = the server application). Content-Length is added by the response writer.
 */
import { ERROR_CONTEXTS } from '../shared/hresult.js';

/** "BITS 1.5 Upload Protocol", the only protocol GUID defined. */
export const BITS_PROTOCOL_GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

export const CONTEXT_SERVER = ERROR_CONTEXTS.REMOTE_FILE;
export const CONTEXT_SERVER_APPLICATION = ERROR_CONTEXTS.REMOTE_APPLICATION;

export interface Ack {
  readonly status: number;
  /** Header names as sent on the wire; insertion order is kept. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** 0x8020001F style: upper-case hex, 8 digits, as MSDN writes BITS-Error-Code. */
export function formatErrorCode(hresult: number): string {
  return `0x${(hresult >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

export function formatErrorContext(context: number): string {
  return `0x${context.toString(16).toUpperCase()}`;
}

export function successAck(status: 200 | 201, headers: Readonly<Record<string, string>> = {}): Ack {
  return { status, headers: { 'BITS-Packet-Type': 'Ack', ...headers } };
}

export function errorAck(
  status: number,
  hresult: number,
  context: number = CONTEXT_SERVER,
  headers: Readonly<Record<string, string>> = {},
): Ack {
  return {
    status,
    headers: {
      'BITS-Packet-Type': 'Ack',
      ...headers,
      'BITS-Error-Code': formatErrorCode(hresult),
      'BITS-Error-Context': formatErrorContext(context),
    },
  };
}

/**
 * Picks the BITS upload protocol from a BITS-Supported-Protocols value (GUIDs separated by spaces
 * or commas, compared case-insensitively); returns the client's own spelling, which the Ack
 * echoes, or undefined when the list does not contain it.
 */
export function pickProtocol(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header
    .split(/[\s,]+/)
    .find((token) => token.toLowerCase() === BITS_PROTOCOL_GUID);
}

/** Copies an Ack without one header (case-insensitive name). */
export function withoutHeader(ack: Ack, name: string): Ack {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(ack.headers)) {
    if (key.toLowerCase() !== name.toLowerCase()) headers[key] = value;
  }
  return { ...ack, headers };
}

/** Copies an Ack with one header set (replacing any spelling of it). */
export function withHeader(ack: Ack, name: string, value: string): Ack {
  return { ...ack, headers: { ...withoutHeader(ack, name).headers, [name]: value } };
}
