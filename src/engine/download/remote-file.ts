/**
 * What a download knows about the remote file, read from response headers, and how it is compared
 * with what was stored when the download started. Pure.
 *
 * BITS's consistency rule is size + timestamp (bits-protocol.md §11); bitsd also compares a strong
 * ETag when the server sends one (a weak ETag cannot validate bytes, so it is ignored).
 */
import type { EngineState } from '../types.js';

export interface RemoteInfo {
  /** Content-Length of the whole file, or null when the server did not say. */
  readonly size: number | null;
  readonly lastModified: string | null;
  /** Strong ETag only. */
  readonly etag: string | null;
  /** The server declared `Accept-Ranges: bytes`. */
  readonly acceptRanges: boolean;
}

/** The validators bitsd persists per file (engine state of a download). */
export interface StoredRemote {
  readonly size: number;
  readonly lastModified: string | null;
  readonly etag: string | null;
}

function nonNegativeInt(text: string | undefined): number | null {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : null;
}

export function readRemoteInfo(headers: Readonly<Record<string, string>>): RemoteInfo {
  const etag = headers.etag?.trim();
  return {
    size: nonNegativeInt(headers['content-length']),
    lastModified: headers['last-modified']?.trim() || null,
    etag: etag !== undefined && etag !== '' && !etag.startsWith('W/') ? etag : null,
    acceptRanges: (headers['accept-ranges'] ?? '').toLowerCase().split(',').some((v) => v.trim() === 'bytes'),
  };
}

export function storedRemote(info: RemoteInfo, size: number): StoredRemote {
  return { size, lastModified: info.lastModified, etag: info.etag };
}

export function toEngineState(stored: StoredRemote): EngineState {
  return { remoteSize: stored.size, lastModified: stored.lastModified, etag: stored.etag };
}

export function fromEngineState(state: EngineState): StoredRemote | null {
  const size = state.remoteSize;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return null;
  const lastModified = typeof state.lastModified === 'string' ? state.lastModified : null;
  const etag = typeof state.etag === 'string' ? state.etag : null;
  return { size, lastModified, etag };
}

/** Whether the remote file is still the one the stored bytes came from. */
export function sameRemote(stored: StoredRemote, now: StoredRemote): boolean {
  if (stored.size !== now.size) return false;
  if (stored.lastModified !== now.lastModified) return false;
  // A server that stopped (or started) sending ETags says nothing about the content.
  if (stored.etag !== null && now.etag !== null && stored.etag !== now.etag) return false;
  return true;
}

/** The If-Range validator: the strong ETag, else the Last-Modified date. */
export function ifRangeValue(stored: StoredRemote): string | null {
  return stored.etag ?? stored.lastModified;
}

export interface ContentRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
  /** Complete length, or null for "*". */
  readonly size: number | null;
}

export function parseContentRange(value: string | undefined): ContentRange | null {
  if (value === undefined) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const size = m[3] === '*' ? null : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (size !== null && (!Number.isSafeInteger(size) || end >= size)) return null;
  return { start, end, size };
}

/** The complete length N in a 416's unsatisfied-range Content-Range "bytes *\/N" (RFC 9110 §14.4), or null. */
export function unsatisfiedRangeSize(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value);
  const size = m?.[1] === undefined ? NaN : Number(m[1]);
  return Number.isSafeInteger(size) ? size : null;
}

/** Last-Modified as a Date for utimes, or null when absent or unparseable. */
export function modificationTime(lastModified: string | null): Date | null {
  if (lastModified === null) return null;
  const t = Date.parse(lastModified);
  return Number.isNaN(t) ? null : new Date(t);
}
