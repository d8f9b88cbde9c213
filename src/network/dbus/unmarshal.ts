/**
 * Reading D-Bus values from the wire format, in either byte order (a message says its own; the
 * bus forwards it as the sender wrote it). Pure. Everything read is checked against the buffer's
 * bounds and the specification's rules, so a malformed message is an error, never a crash or a
 * read past the end.
 */
import { BitsError } from '../../shared/errors.js';
import { alignmentOf, type DBusValue, parseSignature, parseSingleType, type TypeNode } from './signature.js';

const MAX_ARRAY_BYTES = 64 * 1024 * 1024;
/** Variants may nest inside variants; the specification bounds the total depth at 64. */
const MAX_VARIANT_DEPTH = 64;

export class Reader {
  readonly #buf: Buffer;
  readonly #little: boolean;
  #pos: number;
  readonly #start: number;
  #variantDepth = 0;

  /** `start` is the offset of the message's first byte in `buf` (alignment counts from there). */
  constructor(buf: Buffer, littleEndian: boolean, start = 0) {
    this.#buf = buf;
    this.#little = littleEndian;
    this.#start = start;
    this.#pos = start;
  }

  /** Bytes read so far, counted from the message's start. */
  get offset(): number {
    return this.#pos - this.#start;
  }

  readAll(signature: string): DBusValue[] {
    return parseSignature(signature).map((type) => this.read(type));
  }

  align(alignment: number): void {
    const padding = (alignment - (this.offset % alignment)) % alignment;
    this.#need(padding);
    for (let i = 0; i < padding; i++) {
      if (this.#buf[this.#pos + i] !== 0) throw malformed('padding is not zero');
    }
    this.#pos += padding;
  }

  read(type: TypeNode): DBusValue {
    this.align(alignmentOf(type.code));
    switch (type.code) {
      case 'y': this.#need(1); return this.#buf.readUInt8(this.#pos++);
      case 'n': return this.#take(2, (at) => (this.#little ? this.#buf.readInt16LE(at) : this.#buf.readInt16BE(at)));
      case 'q': return this.#take(2, (at) => (this.#little ? this.#buf.readUInt16LE(at) : this.#buf.readUInt16BE(at)));
      case 'i': return this.#take(4, (at) => (this.#little ? this.#buf.readInt32LE(at) : this.#buf.readInt32BE(at)));
      case 'u': case 'h': return this.uint32();
      case 'b': {
        const raw = this.uint32();
        if (raw > 1) throw malformed(`boolean value ${raw}`);
        return raw === 1;
      }
      case 'x': return this.#take(8, (at) => (this.#little ? this.#buf.readBigInt64LE(at) : this.#buf.readBigInt64BE(at)));
      case 't': return this.#take(8, (at) => (this.#little ? this.#buf.readBigUInt64LE(at) : this.#buf.readBigUInt64BE(at)));
      case 'd': return this.#take(8, (at) => (this.#little ? this.#buf.readDoubleLE(at) : this.#buf.readDoubleBE(at)));
      case 's': case 'o': return this.#string(this.uint32());
      case 'g': {
        this.#need(1);
        return this.#string(this.#buf.readUInt8(this.#pos++));
      }
      case 'v': return this.#variant();
      case 'a': return this.#array(type.children[0] as TypeNode);
      case '(': case '{': return type.children.map((child) => this.read(child));
      default: throw malformed(`unknown type "${type.code}"`);
    }
  }

  uint32(): number {
    return this.#take(4, (at) => (this.#little ? this.#buf.readUInt32LE(at) : this.#buf.readUInt32BE(at)));
  }

  #variant(): DBusValue {
    this.#need(1);
    const signature = this.#string(this.#buf.readUInt8(this.#pos++));
    const inner = parseSingleType(signature);
    if (++this.#variantDepth > MAX_VARIANT_DEPTH) throw malformed('variants nested too deep');
    try {
      return { signature, value: this.read(inner) };
    } finally {
      this.#variantDepth--;
    }
  }

  #array(element: TypeNode): DBusValue[] {
    const bytes = this.uint32();
    if (bytes > MAX_ARRAY_BYTES) throw malformed(`array of ${bytes} bytes`);
    this.align(alignmentOf(element.code));
    const end = this.#pos + bytes;
    if (end > this.#buf.length) throw malformed('array runs past the end');
    const out: DBusValue[] = [];
    while (this.#pos < end) out.push(this.read(element));
    if (this.#pos !== end) throw malformed('array elements overrun its length');
    return out;
  }

  #string(length: number): string {
    this.#need(length + 1);
    if (this.#buf[this.#pos + length] !== 0) throw malformed('string not terminated by NUL');
    const bytes = this.#buf.subarray(this.#pos, this.#pos + length);
    if (bytes.includes(0)) throw malformed('string contains NUL');
    this.#pos += length + 1;
    return bytes.toString('utf8');
  }

  #take<T>(size: number, read: (at: number) => T): T {
    this.#need(size);
    const value = read(this.#pos);
    this.#pos += size;
    return value;
  }

  #need(size: number): void {
    if (this.#pos + size > this.#buf.length) throw malformed('message ends early');
  }
}

function malformed(why: string): BitsError {
  return new BitsError('E_FAIL', `malformed D-Bus message: ${why}`);
}
