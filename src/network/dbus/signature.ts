/**
 * D-Bus type signatures and the JavaScript shape of each type's values. Pure.
 *
 * Values: y n q i u d h are numbers; x t are bigints; b is a boolean; s o g are strings; an array
 * (a), a struct (...) and a dict entry {kv} are JavaScript arrays (a dict a{kv} is an array of
 * [key, value] pairs); a variant (v) is a Variant, which carries its own signature.
 */
import { BitsError } from '../../shared/errors.js';

export type DBusValue = number | bigint | boolean | string | Variant | readonly DBusValue[];

export interface Variant {
  readonly signature: string;
  readonly value: DBusValue;
}

export function variant(signature: string, value: DBusValue): Variant {
  return { signature, value };
}

export function isVariant(value: DBusValue): value is Variant {
  return typeof value === 'object' && !Array.isArray(value) && 'signature' in value;
}

/** One complete type: its code and, for containers, the types inside. */
export interface TypeNode {
  /** y b n q i u x t d h s o g v, or a (array), ( (struct), { (dict entry). */
  readonly code: string;
  readonly children: readonly TypeNode[];
}

const BASIC = 'ybnqiuxtdhsog';
/** The specification's limits: 255 bytes of signature, 32 levels of arrays and of structs. */
const MAX_SIGNATURE = 255;
const MAX_NESTING = 32;

/** Parses a signature into its complete types; throws E_INVALIDARG on an invalid one. */
export function parseSignature(signature: string): TypeNode[] {
  if (signature.length > MAX_SIGNATURE) throw badSignature(signature, 'longer than 255 bytes');
  const out: TypeNode[] = [];
  let pos = 0;
  while (pos < signature.length) {
    const [node, next] = parseOne(signature, pos, 0, 0);
    out.push(node);
    pos = next;
  }
  return out;
}

/** Parses a signature that must be exactly one complete type (a variant's). */
export function parseSingleType(signature: string): TypeNode {
  const nodes = parseSignature(signature);
  const [only] = nodes;
  if (only === undefined || nodes.length !== 1) throw badSignature(signature, 'not a single complete type');
  return only;
}

function parseOne(sig: string, pos: number, arrays: number, structs: number): [TypeNode, number] {
  const code = sig[pos];
  if (code === undefined) throw badSignature(sig, 'ends inside a container');
  if (BASIC.includes(code) || code === 'v') return [{ code, children: [] }, pos + 1];
  if (code === 'a') {
    if (arrays + 1 > MAX_NESTING) throw badSignature(sig, 'arrays nested too deep');
    if (sig[pos + 1] === '{') {
      const [entry, next] = parseDictEntry(sig, pos + 1, arrays + 1, structs);
      return [{ code: 'a', children: [entry] }, next];
    }
    const [element, next] = parseOne(sig, pos + 1, arrays + 1, structs);
    return [{ code: 'a', children: [element] }, next];
  }
  if (code === '(') {
    if (structs + 1 > MAX_NESTING) throw badSignature(sig, 'structs nested too deep');
    const fields: TypeNode[] = [];
    let next = pos + 1;
    while (sig[next] !== ')') {
      if (sig[next] === undefined) throw badSignature(sig, 'unclosed struct');
      const [field, after] = parseOne(sig, next, arrays, structs + 1);
      fields.push(field);
      next = after;
    }
    if (fields.length === 0) throw badSignature(sig, 'empty struct');
    return [{ code: '(', children: fields }, next + 1];
  }
  throw badSignature(sig, `unexpected "${code}"`);
}

/** A dict entry is allowed only as an array's element: a basic key and one value type. */
function parseDictEntry(sig: string, pos: number, arrays: number, structs: number): [TypeNode, number] {
  const key = sig[pos + 1];
  if (key === undefined || !BASIC.includes(key)) throw badSignature(sig, 'a dict key must be a basic type');
  const [value, next] = parseOne(sig, pos + 2, arrays, structs + 1);
  if (sig[next] !== '}') throw badSignature(sig, 'a dict entry holds exactly one key and one value');
  return [{ code: '{', children: [{ code: key, children: [] }, value] }, next + 1];
}

/** Alignment of a type's values in bytes. */
export function alignmentOf(code: string): number {
  switch (code) {
    case 'y': case 'g': case 'v': return 1;
    case 'n': case 'q': return 2;
    case 'x': case 't': case 'd': case '(': case '{': return 8;
    default: return 4; // b i u h s o a
  }
}

/** The signature text of a parsed type. */
export function signatureOf(node: TypeNode): string {
  switch (node.code) {
    case 'a': return `a${node.children.map(signatureOf).join('')}`;
    case '(': return `(${node.children.map(signatureOf).join('')})`;
    case '{': return `{${node.children.map(signatureOf).join('')}}`;
    default: return node.code;
  }
}

function badSignature(sig: string, why: string): BitsError {
  return new BitsError('E_INVALIDARG', `invalid D-Bus signature "${sig}": ${why}`);
}
