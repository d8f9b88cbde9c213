/**
 * D-Bus messages: the fixed header, the header fields and the body (the specification's
 * "Message Format"), and how long a message in a byte stream is. Pure. bitsd writes
 * little-endian and reads both byte orders.
 */
import { BitsError } from '../../shared/errors.js';
import { Writer } from './marshal.js';
import { type DBusValue, isVariant, parseSingleType, type TypeNode, variant } from './signature.js';
import { Reader } from './unmarshal.js';

export const MESSAGE_TYPE = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
export type MessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE];

export const MESSAGE_FLAG = { NO_REPLY_EXPECTED: 0x1, NO_AUTO_START: 0x2 } as const;

/** The bus refuses messages over 128 MiB; bitsd reads far smaller ones and refuses more than this. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface Message {
  readonly type: MessageType;
  readonly flags: number;
  readonly serial: number;
  readonly path?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly errorName?: string;
  readonly replySerial?: number;
  readonly destination?: string;
  readonly sender?: string;
  /** The body's signature ("" for no body). */
  readonly signature: string;
  readonly body: readonly DBusValue[];
}

/** A message to send: the connection gives it its serial; the bus sets the sender. */
export type OutgoingMessage = Omit<Message, 'serial' | 'sender' | 'flags'> & { readonly flags?: number };

/** Header field codes and the type each must have. */
const FIELDS = [
  [1, 'path', 'o'],
  [2, 'interface', 's'],
  [3, 'member', 's'],
  [4, 'errorName', 's'],
  [5, 'replySerial', 'u'],
  [6, 'destination', 's'],
  [7, 'sender', 's'],
  [8, 'signature', 'g'],
] as const;
const UNIX_FDS = 9;

const FIELD_ARRAY: TypeNode = parseSingleType('a(yv)');
const LITTLE = 0x6c; // 'l'
const BIG = 0x42; // 'B'

export function encodeMessage(message: OutgoingMessage, serial: number): Buffer {
  const body = new Writer();
  body.writeAll(message.signature, message.body);
  const header = new Writer();
  header.write(parseSingleType('y'), LITTLE);
  header.write(parseSingleType('y'), message.type);
  header.write(parseSingleType('y'), message.flags ?? 0);
  header.write(parseSingleType('y'), 1);
  header.uint32(body.length);
  header.uint32(serial);
  const fields: DBusValue[] = [];
  for (const [code, key, type] of FIELDS) {
    const value = key === 'signature' ? (message.signature === '' ? undefined : message.signature) : (message as Partial<Message>)[key];
    if (value !== undefined) fields.push([code, variant(type, value)]);
  }
  header.write(FIELD_ARRAY, fields);
  header.pad(8);
  const out = Buffer.concat([header.bytes(), body.bytes()]);
  if (out.length > MAX_MESSAGE_BYTES) throw new BitsError('E_INVALIDARG', `D-Bus message of ${out.length} bytes is too large`);
  return out;
}

/**
 * The length of the message at the start of `buf`, or null when fewer than its 16 fixed bytes
 * have arrived. Throws on a header no message could have (then the stream cannot be resynced).
 */
export function messageLength(buf: Buffer): number | null {
  if (buf.length < 16) return null;
  const little = endianOf(buf);
  const bodyLength = little ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLength = little ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const headerLength = 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8);
  const total = headerLength + bodyLength;
  if (total > MAX_MESSAGE_BYTES) throw malformed(`a message of ${total} bytes`);
  return total;
}

/** Decodes one whole message (exactly messageLength(buf) bytes). */
export function decodeMessage(buf: Buffer): Message {
  const little = endianOf(buf);
  const type = buf.readUInt8(1);
  if (type < 1 || type > 4) throw malformed(`message type ${type}`);
  if (buf.readUInt8(3) !== 1) throw malformed(`protocol version ${buf.readUInt8(3)}`);
  const reader = new Reader(buf, little);
  reader.read(parseSingleType('y'));
  reader.read(parseSingleType('y'));
  const flags = reader.read(parseSingleType('y')) as number;
  reader.read(parseSingleType('y'));
  const bodyLength = reader.uint32();
  const serial = reader.uint32();
  if (serial === 0) throw malformed('serial 0');
  const header: Record<string, DBusValue> = {};
  for (const field of reader.read(FIELD_ARRAY) as DBusValue[][]) {
    const [code, value] = field as [number, DBusValue];
    if (code === UNIX_FDS) throw malformed('file descriptors were passed, but none were negotiated');
    const known = FIELDS.find(([c]) => c === code);
    // Unknown header fields are ignored, as the specification asks.
    if (known === undefined || typeof value !== 'object' || !isVariant(value)) continue;
    if (value.signature !== known[2]) throw malformed(`header field ${code} has type ${value.signature}`);
    header[known[1]] = value.value;
  }
  reader.align(8);
  const bodyStart = reader.offset;
  if (bodyStart + bodyLength !== buf.length) throw malformed('body length does not match');
  const signature = typeof header['signature'] === 'string' ? header['signature'] : '';
  const body = bodyLength === 0 && signature === '' ? [] : reader.readAll(signature);
  if (reader.offset !== buf.length) throw malformed('body is longer than its signature');
  const message = { ...header, type: type as MessageType, flags, serial, signature, body } as Message;
  checkRequired(message);
  return message;
}

function checkRequired(m: Message): void {
  const missing = (what: string): BitsError => malformed(`message type ${m.type} without ${what}`);
  if (m.type === MESSAGE_TYPE.METHOD_CALL && (m.path === undefined || m.member === undefined)) throw missing('path and member');
  if (m.type === MESSAGE_TYPE.SIGNAL && (m.path === undefined || m.interface === undefined || m.member === undefined)) throw missing('path, interface and member');
  if (m.type === MESSAGE_TYPE.ERROR && (m.errorName === undefined || m.replySerial === undefined)) throw missing('error name and reply serial');
  if (m.type === MESSAGE_TYPE.METHOD_RETURN && m.replySerial === undefined) throw missing('reply serial');
}

function endianOf(buf: Buffer): boolean {
  const mark = buf.readUInt8(0);
  if (mark !== LITTLE && mark !== BIG) throw malformed(`byte order mark 0x${mark.toString(16)}`);
  return mark === LITTLE;
}

function malformed(why: string): BitsError {
  return new BitsError('E_FAIL', `malformed D-Bus message: ${why}`);
}
