/**
 * Byte-range math for upload fragments (bits-protocol.md §5). Pure.
 *
 * A range is zero-based and inclusive, as Content-Range writes it. The empty range {first: 0,
 * last: -1} exists only for a 0-byte file, whose one fragment carries no bytes (see contentRange).
 */

export interface ByteRange {
  readonly first: number;
  /** Inclusive; first - 1 for the empty range. */
  readonly last: number;
}

export function rangeLength(range: ByteRange): number {
  return range.last - range.first + 1;
}

/** Whether the range holds the file's last byte (for a 0-byte file: the empty range). */
export function isFinalRange(range: ByteRange, total: number): boolean {
  return range.last === total - 1;
}

/**
 * The next fragment to send once the server holds `offset` bytes: from offset, at most
 * `fragmentSize` bytes, never past the end. Null when there is nothing left to send; a 0-byte file
 * gets the empty range once (offset 0, total 0).
 */
export function planFragment(offset: number, total: number, fragmentSize: number): ByteRange | null {
  if (!isByteCount(total) || !isByteCount(offset) || !(fragmentSize >= 1)) return null;
  if (total === 0) return offset === 0 ? { first: 0, last: -1 } : null;
  if (offset >= total) return null;
  const size = Math.floor(fragmentSize);
  return { first: offset, last: Math.min(total, offset + size) - 1 };
}

/**
 * The fragment that ends at the last byte, for when the server already holds every byte but the
 * client still needs the final fragment's Ack (its BITS-Reply-URL). The server ignores the bytes it
 * holds (overlap rule, §5) and acknowledges the whole file again.
 */
export function finalFragment(total: number, fragmentSize: number): ByteRange {
  if (total <= 0) return { first: 0, last: -1 };
  const size = Math.max(1, Math.floor(fragmentSize));
  return { first: Math.max(0, total - size), last: total - 1 };
}

/**
 * "bytes first-last/total". A 0-byte file has no byte to name, so its one (empty) fragment says
 * "bytes *\/0" (written escaped here: an asterisk, a slash, the total 0), the form RFC 9110 §14.4
 * has for "no range of a representation of this length", and the one bitsd's reference server
 * (src/server/ranges.ts) accepts. No BITS document specifies this case; "bytes 0--1/0" (what curl
 * sends) is not valid Content-Range syntax.
 */
export function contentRange(range: ByteRange, total: number): string {
  if (rangeLength(range) <= 0) return `bytes */${total}`;
  return `bytes ${range.first}-${range.last}/${total}`;
}

/**
 * The fragment size after a 413: half, but not below `floor`. Null when already at the floor (the
 * server refuses even the smallest fragment: a fatal error).
 */
export function shrinkFragmentSize(current: number, floor: number): number | null {
  if (current <= floor) return null;
  return Math.max(floor, Math.floor(current / 2));
}

/** A non-negative safe integer: a byte count or offset that JSON and arithmetic keep exactly. */
export function isByteCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Strict decimal parse of a non-negative byte count ("213"); undefined for anything else. */
export function parseByteCount(text: string): number | undefined {
  const m = /^\s*(\d{1,16})\s*$/.exec(text);
  if (!m || m[1] === undefined) return undefined;
  const value = Number(m[1]);
  return isByteCount(value) ? value : undefined;
}
