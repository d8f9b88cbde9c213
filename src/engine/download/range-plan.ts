/**
 * Which remote bytes go where in the temp file. Pure.
 *
 * A whole-file download is one segment [0, size). An addFileWithRanges download is one segment per
 * requested range, resolved against the remote size (BG_LENGTH_TO_EOF = to the end) and stored
 * back to back in the temp file in the given order. Each segment is fetched with its own ranged
 * GET (no multipart/byteranges), so a resume only needs the temp-file offset.
 */
import { BG_LENGTH_TO_EOF, type FileRange } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';

export interface Segment {
  /** First byte in the remote file. */
  readonly start: number;
  readonly length: number;
}

export function planSegments(ranges: readonly FileRange[] | null, size: number): Segment[] {
  if (ranges === null) return size > 0 ? [{ start: 0, length: size }] : [];
  return ranges.map((r) => {
    const toEof = r.length === BG_LENGTH_TO_EOF;
    const beyond = r.initialOffset < 0 || (toEof ? r.initialOffset >= size : r.length < 0 || r.initialOffset + r.length > size);
    if (beyond) {
      throw new BitsError('BG_E_INVALID_RANGE', `The range ${r.initialOffset}:${toEof ? 'eof' : r.length} extends beyond the end of the remote file (${size} bytes).`, {
        context: 'REMOTE_FILE',
        transient: false,
        details: { initialOffset: r.initialOffset, length: r.length, size },
      });
    }
    return { start: r.initialOffset, length: toEof ? size - r.initialOffset : r.length };
  });
}

export function totalLength(segments: readonly Segment[]): number {
  return segments.reduce((sum, s) => sum + s.length, 0);
}

export interface SegmentCursor {
  readonly index: number;
  /** Bytes of this segment already in the temp file. */
  readonly done: number;
  /** Temp-file position where this segment starts. */
  readonly fileOffset: number;
}

/** Where a download resumes from a temp-file offset: the segment and how much of it is done. */
export function locate(segments: readonly Segment[], offset: number): SegmentCursor | null {
  let fileOffset = 0;
  for (let index = 0; index < segments.length; index++) {
    const seg = segments[index];
    if (seg === undefined) break;
    if (offset < fileOffset + seg.length) return { index, done: offset - fileOffset, fileOffset };
    fileOffset += seg.length;
  }
  return null;
}
