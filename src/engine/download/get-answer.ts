/**
 * What the answer to a ranged GET of a static file says about the file. Pure: the caller sends
 * the request, reads or discards the body, and decides what to do with the verdict.
 *
 * An answer is read against what is already known of the file (its size and validators, stored
 * with the durable bytes or given by a HEAD) or, for the opening GET of a file with nothing stored,
 * against nothing: then a 206 with a complete length in its Content-Range, or a 200 with a
 * Content-Length, is what tells bitsd the size and the validators.
 */
import { parseContentRange, readRemoteInfo, type StoredRemote, storedRemote, unsatisfiedRangeSize } from './remote-file.js';

/** The bytes a GET asked for: `end` inclusive, or null when the file's end was not known. */
export interface AskedRange {
  readonly start: number;
  readonly end: number | null;
}

export type GetAnswer =
  /** 206: bytes `start`..`end` (inclusive) of the file `remote` describes. */
  | { readonly kind: 'part'; readonly remote: StoredRemote; readonly start: number; readonly end: number }
  /**
   * 200: the whole file. `remote.size` is the Content-Length (`sized`), or else the known size.
   * `acceptRanges`: the answer declared `Accept-Ranges: bytes`.
   */
  | { readonly kind: 'whole'; readonly remote: StoredRemote; readonly sized: boolean; readonly acceptRanges: boolean }
  /** 416 to the opening GET: the complete length the server gave ("bytes *\/N"), or null. */
  | { readonly kind: 'unsatisfiable'; readonly size: number | null }
  /** Nothing was known and the answer does not give the size (206 "bytes a-b/*", a 200 without Content-Length). */
  | { readonly kind: 'unsized' }
  /** Not the bytes of the known file: 412, 416, another complete length, or other validators. */
  | { readonly kind: 'changed' }
  /** A 206 that breaks the protocol (no usable Content-Range, other bytes than asked for). */
  | { readonly kind: 'invalid'; readonly message: string }
  /** Any other status: an HTTP error for the caller to map. */
  | { readonly kind: 'refused' };

/** Whether validators an answer carries contradict the known ones (one side absent says nothing). */
function contradicts(known: StoredRemote, lastModified: string | null, etag: string | null): boolean {
  if (lastModified !== null && known.lastModified !== null && lastModified !== known.lastModified) return true;
  return etag !== null && known.etag !== null && etag !== known.etag;
}

function readPart(headers: Readonly<Record<string, string>>, asked: AskedRange, known: StoredRemote | null): GetAnswer {
  const range = parseContentRange(headers['content-range']);
  if (range === null) return { kind: 'invalid', message: `206 response without a single-range Content-Range (got "${headers['content-range'] ?? ''}").` };
  const info = readRemoteInfo(headers);
  const size = range.size ?? known?.size ?? null;
  if (size === null) return { kind: 'unsized' };
  if (known !== null && (size !== known.size || contradicts(known, info.lastModified, info.etag))) return { kind: 'changed' };
  if (range.start !== asked.start || (asked.end !== null && range.end > asked.end) || range.end >= size) {
    return { kind: 'invalid', message: `Asked for bytes ${asked.start}-${asked.end ?? ''}, the server sent ${range.start}-${range.end}.` };
  }
  // A 206 need not repeat the validators; the known ones still describe the bytes.
  const remote: StoredRemote =
    known === null ? storedRemote(info, size) : { size, lastModified: info.lastModified ?? known.lastModified, etag: info.etag ?? known.etag };
  return { kind: 'part', remote, start: range.start, end: range.end };
}

/**
 * Reads the status and headers of the answer to a GET for `asked`. `known`: what is known of the
 * file (the If-Range validator came from it), or null for the opening GET of a fresh file.
 */
export function readGetAnswer(status: number, headers: Readonly<Record<string, string>>, asked: AskedRange, known: StoredRemote | null): GetAnswer {
  if (status === 206) return readPart(headers, asked, known);
  if (status === 200) {
    const info = readRemoteInfo(headers);
    const size = info.size ?? known?.size ?? null;
    if (size === null) return { kind: 'unsized' };
    return { kind: 'whole', remote: storedRemote(info, size), sized: info.size !== null, acceptRanges: info.acceptRanges };
  }
  if (known === null) return status === 416 ? { kind: 'unsatisfiable', size: unsatisfiedRangeSize(headers['content-range']) } : { kind: 'refused' };
  // If-Range carried the known validator: 412 and 416 both mean another version is there now.
  return status === 412 || status === 416 ? { kind: 'changed' } : { kind: 'refused' };
}
