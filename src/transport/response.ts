/**
 * Wraps an undici response as an HttpResponse: lower-cased, flattened headers; a body stream whose
 * errors are already BitsErrors; bounded text(); dump() that keeps the connection reusable.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { BitsError } from '../shared/errors.js';
import { mapTransportError } from './error-mapping.js';
import type { HttpResponse } from './types.js';

/** Default limit of text(): bodies of error pages and BITS replies are small. */
export const DEFAULT_TEXT_LIMIT = 1024 * 1024;

/** Lower-cased names; repeated headers joined with ", ", except set-cookie (joined with "\n"). */
export function flattenHeaders(raw: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const joined = Array.isArray(value) ? value.join(key === 'set-cookie' ? '\n' : ', ') : value;
    out[key] = out[key] === undefined ? joined : `${out[key]}, ${joined}`;
  }
  return out;
}

type UndiciBody = Dispatcher.ResponseData['body'];

export function wrapResponse(data: Dispatcher.ResponseData, signal: AbortSignal | undefined): HttpResponse {
  const raw: UndiciBody = data.body;
  let started = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    started = true;
    try {
      for await (const chunk of raw) yield chunk as Buffer;
    } catch (err) {
      throw mapTransportError(err, signal);
    }
  }
  const body = Readable.from(chunks(), { objectMode: false });
  let dumping = false;
  // Destroying the wrapper before anyone read it must release undici's body too: until that body
  // closes, undici keeps its abort listener on the request's signal, and long-lived signals (the
  // Cancel-Session retries share one for the queue's lifetime) would gather one per request.
  // Once reading started, Readable.from's iterator return() closes `raw` itself.
  body.once('close', () => {
    if (!started && !dumping && !raw.destroyed) raw.on('error', () => undefined).destroy();
  });
  return {
    status: data.statusCode,
    headers: flattenHeaders(data.headers),
    body,
    async text(limit = DEFAULT_TEXT_LIMIT): Promise<string> {
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > limit) {
          body.destroy();
          throw new BitsError('BG_E_TOO_LARGE', `The response body exceeds ${limit} bytes.`, {
            context: 'REMOTE_FILE',
            transient: false,
          });
        }
        parts.push(buf);
      }
      return Buffer.concat(parts).toString('utf8');
    },
    async dump(): Promise<void> {
      if (!started) {
        dumping = true;
        // undici reads and discards up to its limit, then closes the socket rather than read a
        // large body nobody wants; either way the next request can go.
        body.destroy();
        try {
          await raw.dump();
        } catch {
          // A body that failed while being discarded needs nothing more: the socket is gone.
        }
        return;
      }
      body.destroy();
    },
  };
}
