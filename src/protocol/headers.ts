/**
 * Header hygiene shared by every request bitsd sends: the job's custom headers (CRLF-separated
 * "Name: value" lines set through SetCustomHeaders) parsed into a map that cannot break HTTP framing
 * or override a protocol header. Pure: no I/O.
 */

/** RFC 9110 token characters: what a header name may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Names a custom header may not set: message framing and hop-by-hop headers (a wrong value would
 * desynchronise the connection), the headers the upload protocol owns, and Host (the transport sets
 * it from the URL). Any name starting with "bits-" is refused too (see isReservedName).
 */
const RESERVED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'content-range',
  'content-name',
  // Fragment bodies are identity-encoded; a custom Content-Encoding would lie about them.
  'content-encoding',
  'range',
]);

export function isReservedName(lowerName: string): boolean {
  return RESERVED.has(lowerName) || lowerName.startsWith('bits-');
}

/** A value that can go on the wire as-is: no CR, LF, NUL or other control characters except HTAB. */
export function isLegalHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x09) continue;
    if (c < 0x20 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

export function isTokenName(name: string): boolean {
  return TOKEN.test(name);
}

export interface RejectedHeaderLine {
  /** The header name of the offending line, or '' when it has none (custom header values can be secrets: never the value). */
  readonly name: string;
  readonly reason: 'no-colon' | 'bad-name' | 'bad-value' | 'reserved' | 'folded';
}

export interface CustomHeaders {
  /** Lower-cased names; repeated names joined with ", " (RFC 9110 §5.3). */
  readonly headers: Readonly<Record<string, string>>;
  readonly rejected: readonly RejectedHeaderLine[];
}

/**
 * Parses the job's custom headers. Lenient about line endings (CRLF or bare LF, empty lines
 * ignored), strict about content: a line that could inject a header or break framing is skipped and
 * reported in `rejected`, never sent. Never throws.
 */
export function parseCustomHeaders(text: string | null | undefined): CustomHeaders {
  const headers: Record<string, string> = {};
  const rejected: RejectedHeaderLine[] = [];
  if (!text) return { headers, rejected };
  for (const line of text.split(/\r?\n|\r/)) {
    if (line.trim() === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // obs-fold continuation (RFC 9112 §5.2): deprecated, and a proxy may treat it as a new header.
      rejected.push({ name: '', reason: 'folded' });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      // Without a colon there is no name part: the whole line may be a secret.
      rejected.push({ name: '', reason: 'no-colon' });
      continue;
    }
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!isTokenName(name)) {
      // Not a header name, so possibly not a name at all ("Bearer abc123: x"): not repeated.
      rejected.push({ name: '', reason: 'bad-name' });
      continue;
    }
    const lower = name.toLowerCase();
    if (isReservedName(lower)) {
      rejected.push({ name, reason: 'reserved' });
      continue;
    }
    if (!isLegalHeaderValue(value)) {
      rejected.push({ name, reason: 'bad-value' });
      continue;
    }
    const previous = headers[lower];
    headers[lower] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return { headers, rejected };
}

/**
 * Merges header maps left to right: later maps win on the same (lower-case) name. Protocol headers
 * go last so nothing can override them.
 */
export function mergeHeaders(...maps: ReadonlyArray<Readonly<Record<string, string>>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const map of maps) {
    for (const [name, value] of Object.entries(map)) out[name.toLowerCase()] = value;
  }
  return out;
}
