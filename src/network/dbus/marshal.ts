/**
 * Writing D-Bus values in the wire format (little-endian; the specification's "Marshaling").
 * Pure. Offsets are counted from the start of the message, whose header is padded to 8 bytes,
 * so a body written from offset 0 of its own Writer is aligned the same way.
 */
import { BitsError } from '../../shared/errors.js';
import { alignmentOf, type DBusValue, isVariant, parseSignature, parseSingleType, type TypeNode } from './signature.js';

const MAX_ARRAY_BYTES = 64 * 1024 * 1024;

const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  y: [0, 0xff],
  n: [-0x8000, 0x7fff],
  q: [0, 0xffff],
  i: [-0x80000000, 0x7fffffff],
  u: [0, 0xffffffff],
  h: [0, 0xffffffff],
};

export class Writer {
  #buf = Buffer.alloc(256);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  /** The bytes written so far (a copy-free view). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }

  /** Writes the values of a signature (a message body, or a header field list). */
  writeAll(signature: string, values: readonly DBusValue[]): void {
    const types = parseSignature(signature);
    if (types.length !== values.length) throw mismatch(signature, `${values.length} values for ${types.length} types`);
    types.forEach((type, i) => this.write(type, values[i] as DBusValue));
  }

  pad(alignment: number): void {
    const padding = (alignment - (this.#len % alignment)) % alignment;
    this.#reserve(padding);
    this.#buf.fill(0, this.#len, this.#len + padding);
    this.#len += padding;
  }

  write(type: TypeNode, value: DBusValue): void {
    this.pad(alignmentOf(type.code));
    switch (type.code) {
      case 'y': this.#reserve(1); this.#buf.writeUInt8(intOf(type.code, value), this.#len); this.#len += 1; return;
      case 'n': this.#reserve(2); this.#buf.writeInt16LE(intOf(type.code, value), this.#len); this.#len += 2; return;
      case 'q': this.#reserve(2); this.#buf.writeUInt16LE(intOf(type.code, value), this.#len); this.#len += 2; return;
      case 'i': this.#reserve(4); this.#buf.writeInt32LE(intOf(type.code, value), this.#len); this.#len += 4; return;
      case 'u': case 'h': this.uint32(intOf(type.code, value)); return;
      case 'b':
        if (typeof value !== 'boolean') throw mismatch('b', `${typeof value} is not a boolean`);
        this.uint32(value ? 1 : 0);
        return;
      case 'x': case 't': this.#int64(type.code, value); return;
      case 'd':
        if (typeof value !== 'number') throw mismatch('d', `${typeof value} is not a number`);
        this.#reserve(8); this.#buf.writeDoubleLE(value, this.#len); this.#len += 8;
        return;
      case 's': case 'o': this.#string(type.code, value, 4); return;
      case 'g': this.#string('g', value, 1); return;
      case 'v': {
        if (typeof value !== 'object' || !isVariant(value)) throw mismatch('v', 'not a variant');
        const inner = parseSingleType(value.signature);
        this.#string('g', value.signature, 1);
        this.write(inner, value.value);
        return;
      }
      case 'a': this.#array(type.children[0] as TypeNode, value); return;
      case '(': case '{': {
        if (!Array.isArray(value) || value.length !== type.children.length) throw mismatch(type.code, `expected ${type.children.length} fields`);
        type.children.forEach((child, i) => this.write(child, (value as readonly DBusValue[])[i] as DBusValue));
        return;
      }
      default: throw mismatch(type.code, 'unknown type');
    }
  }

  uint32(value: number): void {
    this.#reserve(4);
    this.#buf.writeUInt32LE(value, this.#len);
    this.#len += 4;
  }

  /** Overwrites a uint32 written earlier (an array's length once its elements are known). */
  patchUint32(offset: number, value: number): void {
    this.#buf.writeUInt32LE(value, offset);
  }

  #array(element: TypeNode, value: DBusValue): void {
    if (!Array.isArray(value)) throw mismatch('a', 'not an array');
    const lengthAt = this.#len;
    this.uint32(0);
    // The padding to the first element is not counted in the array's length.
    this.pad(alignmentOf(element.code));
    const start = this.#len;
    for (const item of value as readonly DBusValue[]) this.write(element, item);
    const bytes = this.#len - start;
    if (bytes > MAX_ARRAY_BYTES) throw mismatch('a', 'array longer than 64 MiB');
    this.patchUint32(lengthAt, bytes);
  }

  #int64(code: string, value: DBusValue): void {
    const big = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
    if (typeof big !== 'bigint') throw mismatch(code, `${typeof value} is not an integer`);
    this.#reserve(8);
    if (code === 'x') this.#buf.writeBigInt64LE(big, this.#len);
    else this.#buf.writeBigUInt64LE(big, this.#len);
    this.#len += 8;
  }

  #string(code: string, value: DBusValue, lengthBytes: 1 | 4): void {
    if (typeof value !== 'string') throw mismatch(code, `${typeof value} is not a string`);
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.includes(0)) throw mismatch(code, 'a string may not contain NUL');
    if (lengthBytes === 1) {
      if (bytes.length > 255) throw mismatch(code, 'a signature is at most 255 bytes');
      this.#reserve(1);
      this.#buf.writeUInt8(bytes.length, this.#len);
      this.#len += 1;
    } else {
      this.uint32(bytes.length);
    }
    this.#reserve(bytes.length + 1);
    bytes.copy(this.#buf, this.#len);
    this.#buf.writeUInt8(0, this.#len + bytes.length);
    this.#len += bytes.length + 1;
  }

  #reserve(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return;
    const grown = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + extra));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }
}

function intOf(code: string, value: DBusValue): number {
  const range = INT_RANGES[code] as readonly [number, number];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw mismatch(code, `${String(value)} is not an integer in ${range[0]}..${range[1]}`);
  }
  return value;
}

function mismatch(code: string, why: string): BitsError {
  return new BitsError('E_INVALIDARG', `cannot write D-Bus type "${code}": ${why}`);
}
