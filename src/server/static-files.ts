/**
 * GET/HEAD of files under the root (and of upload replies), with single byte ranges, a strong
 * ETag, Last-Modified and the conditionals a resuming download engine uses (If-Range, If-Match,
 * If-Unmodified-Since). If-None-Match / If-Modified-Since are not evaluated: the answer is
 * always the representation, which is what a download engine wants.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingRequest } from './http-connection.js';
import type { ResponseHeaders, ResponseWriter } from './http-response.js';
import type { Fault } from './faults.js';
import { evaluateRange } from './ranges.js';

export interface StaticOptions {
  /** false: Range is ignored (always 200 with the whole file) and Accept-Ranges is not sent. */
  readonly ranges: boolean;
  /** false: HEAD answers carry no Content-Length (a server that cannot tell the size). */
  readonly headSize: boolean;
}

export interface FileToServe {
  readonly path: string;
  readonly contentType: string;
}

/** Strong validator from size and nanosecond mtime: any rewrite of the file changes it. */
function etagOf(size: bigint, mtimeNs: bigint): string {
  return `"${size.toString(16)}-${mtimeNs.toString(16)}"`;
}

function parseHttpDate(text: string): number | undefined {
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

function strongMatch(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || (!t.startsWith('W/') && t === etag));
}

/**
 * Serves one file. `record` gets the outcome (status, or 'reset' for a scripted reset) before
 * the first byte is written, so a client that has its answer always finds the log entry filled
 * in. `fault` is a GET fault already taken from the plan (status/stall are handled by the caller).
 */
export async function serveFile(
  req: IncomingRequest,
  res: ResponseWriter,
  file: FileToServe,
  options: StaticOptions,
  fault: Fault | undefined,
  record: (outcome: number | 'reset') => void,
): Promise<void> {
  const answer = (status: number): number => {
    record(status);
    return status;
  };
  let info;
  try {
    info = await stat(file.path, { bigint: true });
  } catch {
    answer(404);
    res.send(404, { 'Content-Type': 'text/plain' }, 'not found\n');
    return;
  }
  if (!info.isFile()) {
    answer(404);
    res.send(404, { 'Content-Type': 'text/plain' }, 'not found\n');
    return;
  }
  const size = Number(info.size);
  const mtimeMs = Number(info.mtimeMs);
  const etag = etagOf(info.size, info.mtimeNs);
  const lastModified = new Date(mtimeMs).toUTCString();
  const validators: Record<string, string> = { ETag: etag, 'Last-Modified': lastModified };

  const ifMatch = req.headers.get('if-match');
  const ifUnmodifiedSince = req.headers.get('if-unmodified-since');
  if (ifMatch !== undefined) {
    if (!strongMatch(ifMatch, etag)) return preconditionFailed(res, validators, answer);
  } else if (ifUnmodifiedSince !== undefined) {
    const since = parseHttpDate(ifUnmodifiedSince);
    if (since !== undefined && Math.floor(mtimeMs / 1000) * 1000 > since) return preconditionFailed(res, validators, answer);
  }

  let rangeHeader = options.ranges ? req.headers.get('range') : undefined;
  const ifRange = req.headers.get('if-range');
  if (rangeHeader !== undefined && ifRange !== undefined) {
    // If-Range: the range only applies to the representation the client already has.
    const same = ifRange.startsWith('"') || ifRange.startsWith('W/')
      ? ifRange === etag
      : parseHttpDate(ifRange) === Date.parse(lastModified);
    if (!same) rangeHeader = undefined;
  }

  const omitted = fault?.kind === 'omit-header' ? fault.header.toLowerCase() : undefined;
  const base: Record<string, string> = { 'Content-Type': file.contentType, ...validators };
  if (options.ranges) base['Accept-Ranges'] = 'bytes';
  const finish = (headers: Record<string, string>): ResponseHeaders => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== omitted) out[k] = v;
    return out;
  };
  const omitContentLength = omitted === 'content-length' || (req.method === 'HEAD' && !options.headSize);
  const resetAfterBytes = fault?.kind === 'reset' ? (fault.afterBodyBytes ?? 0) : undefined;
  const streamOptions = {
    omitContentLength,
    ...(resetAfterBytes === undefined ? {} : { resetAfterBytes }),
  };

  const streamed = (status: number): number => {
    record(resetAfterBytes === undefined || req.method === 'HEAD' ? status : 'reset');
    return status;
  };
  const range = evaluateRange(rangeHeader, size);
  if (range.kind === 'unsatisfiable') {
    res.send(answer(416), finish({ ...base, 'Content-Range': `bytes */${size}` }));
    return;
  }
  if (range.kind === 'range') {
    const length = range.end - range.start + 1;
    const source = createReadStream(file.path, { start: range.start, end: range.end });
    const headers = finish({ ...base, 'Content-Range': `bytes ${range.start}-${range.end}/${size}` });
    await res.stream(streamed(206), headers, length, source, streamOptions);
    return;
  }
  // An empty file: createReadStream with end=-1 would read everything, so send no stream at all.
  if (size === 0) {
    res.send(answer(200), finish(base), '', { omitContentLength });
    return;
  }
  const source = createReadStream(file.path, { start: 0, end: size - 1 });
  await res.stream(streamed(200), finish(base), size, source, streamOptions);
}

function preconditionFailed(res: ResponseWriter, validators: Record<string, string>, answer: (status: number) => number): void {
  res.send(answer(412), validators);
}
