/**
 * Byte-range parsing for both directions (pure): the Content-Range of a BITS Fragment, and the
 * Range header of a GET.
 */

/** A fragment's Content-Range. `empty` is the 0-byte upload form `bytes *\/0` (see parseFragmentRange). */
export type FragmentRange =
  | { readonly kind: 'range'; readonly first: number; readonly last: number; readonly total: number }
  | { readonly kind: 'empty' };

const SAFE_DIGITS = /^\d{1,16}$/;

function safeInt(text: string): number | undefined {
  if (!SAFE_DIGITS.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parses `bytes <first>-<last>/<total>` (zero-based, inclusive, first <= last < total).
 * A 0-byte file has no byte to name, so the one form RFC 9110 has for "no range of a
 * representation of this length", `bytes *\/0`, is accepted as the upload of an empty file.
 * Returns undefined for anything else.
 */
export function parseFragmentRange(text: string): FragmentRange | undefined {
  const m = /^bytes[ \t]+(?:(\d+)-(\d+)|\*)\/(\d+)$/i.exec(text.trim());
  if (!m || m[3] === undefined) return undefined;
  const total = safeInt(m[3]);
  if (total === undefined) return undefined;
  if (m[1] === undefined || m[2] === undefined) return total === 0 ? { kind: 'empty' } : undefined;
  const first = safeInt(m[1]);
  const last = safeInt(m[2]);
  if (first === undefined || last === undefined || first > last || last >= total) return undefined;
  return { kind: 'range', first, last, total };
}

export type ByteRangeRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

/**
 * Evaluates a GET Range header against a file of `size` bytes. Only one range is served: a
 * multi-range or malformed header is ignored (a full 200), which RFC 9110 §14.2 permits.
 */
export function evaluateRange(header: string | undefined, size: number): ByteRangeRequest {
  if (header === undefined) return { kind: 'none' };
  const m = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(header.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return { kind: 'none' };
  const [, firstText, lastText] = m;
  if (firstText === '' && lastText === '') return { kind: 'none' };
  if (firstText === '') {
    const suffix = safeInt(lastText);
    if (suffix === undefined) return { kind: 'none' };
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = safeInt(firstText);
  if (start === undefined) return { kind: 'none' };
  if (lastText === '') {
    return start >= size ? { kind: 'unsatisfiable' } : { kind: 'range', start, end: size - 1 };
  }
  const last = safeInt(lastText);
  if (last === undefined || last < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(last, size - 1) };
}
