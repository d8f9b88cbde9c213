/**
 * Argument rules of the IBackgroundCopyJob methods (bits-api.md (c), (d)) as pure functions that
 * return the cleaned value or throw a BitsError naming the argument and what to fix. Checks that
 * need the file system (does the directory exist?) live in the API layer.
 */
import { BitsError, invalidArg } from '../shared/errors.js';
import {
  AUTH_SCHEMES,
  AUTH_TARGETS,
  type AuthScheme,
  type AuthTarget,
  BG_LENGTH_TO_EOF,
  type Credentials,
  type FileRange,
  JOB_TYPES,
  type JobType,
  LIMITS,
  NOTIFY_ALL_FLAGS,
  PRIORITIES,
  type Priority,
  PROXY_USAGES,
  type ProxySettings,
  type ProxyUsage,
  SECURITY,
  SECURITY_ALL_FLAGS,
} from './types.js';

const MAX_DWORD = 0xffffffff;

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

export function checkJobType(type: unknown): JobType {
  if (!JOB_TYPES.includes(type as JobType)) {
    throw invalidArg(`Job type must be one of ${JOB_TYPES.join(', ')}; got ${JSON.stringify(type)}.`);
  }
  return type as JobType;
}

/** CreateJob's name: E_INVALIDARG when missing or longer than 256 characters. */
export function checkNewDisplayName(name: unknown): string {
  if (!isString(name)) throw invalidArg('The display name must be a string.');
  if (name.length > LIMITS.displayName) {
    throw invalidArg(`The display name is ${name.length} characters long; the limit is ${LIMITS.displayName}.`);
  }
  return name;
}

export function checkDisplayName(name: unknown): string {
  if (!isString(name)) throw invalidArg('The display name must be a string.');
  if (name.length > LIMITS.displayName) {
    throw new BitsError('BG_E_STRING_TOO_LONG', `The display name is ${name.length} characters long; the limit is ${LIMITS.displayName}.`);
  }
  return name;
}

export function checkDescription(text: unknown): string {
  if (!isString(text)) throw invalidArg('The description must be a string.');
  if (text.length > LIMITS.description) {
    throw new BitsError('BG_E_STRING_TOO_LONG', `The description is ${text.length} characters long; the limit is ${LIMITS.description}.`);
  }
  return text;
}

export function checkPriority(priority: unknown): Priority {
  if (!PRIORITIES.includes(priority as Priority)) {
    throw new BitsError('E_NOTIMPL', `Priority must be one of ${PRIORITIES.join(', ')}; got ${JSON.stringify(priority)}.`);
  }
  return priority as Priority;
}

/**
 * A DWORD argument: an integer from 0 to 0xFFFFFFFF. Checked before any bit test: JavaScript's
 * bitwise operators keep only the low 32 bits, so 2^32 would pass as 0 and 2^53 + 1 as 1.
 */
export function checkDword(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DWORD) {
    throw invalidArg(`${what} must be a 32-bit unsigned integer (0 to 0xFFFFFFFF); got ${JSON.stringify(value)}.`);
  }
  return value;
}

export function checkNotifyFlags(flags: unknown): number {
  const value = checkDword(flags, 'The notify flags');
  const unknown = (value & ~NOTIFY_ALL_FLAGS) >>> 0;
  if (unknown !== 0) {
    throw new BitsError('E_NOTIMPL', `Unknown notify flag bits 0x${unknown.toString(16)}; known bits are 0x1-0x20.`);
  }
  return value;
}

/** An HRESULT for GetErrorDescription: a 32-bit value, signed (-2147024809) or unsigned (0x80070057). */
export function checkHresult(hresult: unknown): number {
  if (typeof hresult !== 'number' || !Number.isInteger(hresult) || hresult < -0x80000000 || hresult > MAX_DWORD) {
    throw invalidArg(`An HRESULT is a 32-bit integer (-0x80000000 to 0xFFFFFFFF); got ${JSON.stringify(hresult)}.`);
  }
  return hresult >>> 0;
}

function checkSeconds(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_DWORD) {
    throw invalidArg(`${what} must be a whole number of seconds from 0 to ${MAX_DWORD}; got ${JSON.stringify(value)}.`);
  }
  return value as number;
}

/** Values under 5 s become 5 s (SetMinimumRetryDelay). */
export function checkMinimumRetryDelay(seconds: unknown): number {
  return Math.max(LIMITS.minRetryDelayFloorSec, checkSeconds(seconds, 'The minimum retry delay'));
}

export function checkNoProgressTimeout(seconds: unknown): number {
  return checkSeconds(seconds, 'The no-progress timeout');
}

/** 0 means no limit (our decision: the docs give no meaning to 0). */
export function checkMaximumDownloadTime(seconds: unknown): number {
  return checkSeconds(seconds, 'The maximum download time');
}

const REMOTE_SCHEMES = new Set(['http:', 'https:', 'file:']);

/**
 * A remote name: an absolute http, https or file URL of at most 2,200 characters. Unsupported
 * schemes (ftp:, ...) are E_INVALIDARG as Microsoft documents (a Wine probe suggested
 * BG_E_PROTOCOL_NOT_AVAILABLE, whose meaning does not fit this case).
 */
export function checkRemoteName(remote: unknown, jobType: JobType): URL {
  if (!isString(remote) || remote.length === 0) throw invalidArg('The remote name must be a non-empty URL.');
  if (remote.length > LIMITS.remoteName) {
    throw invalidArg(`The remote name is ${remote.length} characters long; the limit is ${LIMITS.remoteName}.`);
  }
  if (/[\u0000-\u001f\u007f]/.test(remote)) throw invalidArg('The remote name contains control characters.');
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw invalidArg(`The remote name ${JSON.stringify(remote)} is not an absolute URL (expected http://, https:// or file://).`);
  }
  if (!REMOTE_SCHEMES.has(url.protocol)) {
    throw invalidArg(`The remote name uses the unsupported protocol ${url.protocol.slice(0, -1)}; use http, https or file.`);
  }
  if (url.username !== '' || url.password !== '') {
    // A remote name is stored, listed and shown in errors: credentials in it would leak there.
    throw invalidArg('The remote name contains a user name or password; remove it and use setCredentials instead.');
  }
  if (url.protocol === 'file:') {
    if (jobType !== 'DOWNLOAD') {
      throw invalidArg(`${jobType} jobs need an http:// or https:// remote name; file:// is supported for DOWNLOAD jobs only.`);
    }
    if (/[*?]/.test(decodeURIComponent(url.pathname))) throw invalidArg('A file:// remote name cannot contain wildcards.');
  } else if (!url.hostname || !/^[a-z][a-z0-9+.-]*:[/\\]{2}[^/\\?#]/i.test(remote)) {
    // The URL parser would read "http:///file" or "http:host/x" as http://file/ and http://host/x:
    // a remote name whose host went missing (an empty variable) must not become another host.
    throw invalidArg(`The remote name ${JSON.stringify(remote)} has no host; write it as ${url.protocol}//host/path.`);
  }
  return url;
}

/** Paths are bytes to the kernel: limits on them count UTF-8 bytes, not characters. */
function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * A local name: an absolute path, no NUL, at most 4,095 bytes of UTF-8 (Linux's PATH_MAX of 4,096
 * counts the terminating NUL: a 4,096-byte path fails with ENAMETOOLONG), not MAX_PATH.
 */
export function checkLocalName(local: unknown, what = 'The local name'): string {
  if (!isString(local) || local.length === 0) throw invalidArg(`${what} must be a non-empty absolute path.`);
  if (local.includes('\0')) throw invalidArg(`${what} contains a NUL character.`);
  if (!local.startsWith('/')) throw invalidArg(`${what} ${JSON.stringify(local)} is relative; give an absolute path.`);
  const bytes = utf8Length(local);
  if (bytes > LIMITS.localPath) throw invalidArg(`${what} is ${bytes} bytes long; Linux paths are limited to ${LIMITS.localPath} bytes: use a shorter path.`);
  if (local.endsWith('/')) throw invalidArg(`${what} ${JSON.stringify(local)} names a directory; give a file name.`);
  const long = local.split('/').find((part) => utf8Length(part) > LIMITS.nameComponent);
  if (long !== undefined) {
    throw invalidArg(`${what} has a component of ${utf8Length(long)} bytes (${JSON.stringify(long.slice(0, 40))}...); Linux file names are limited to ${LIMITS.nameComponent} bytes.`);
  }
  return local;
}

/** An absolute path with "//", "/./" and "/x/../" folded (path.posix.normalize, kept pure here). */
export function normalizeAbsolutePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/**
 * AddFile/AddFileSet: no two files of a job may share a local name, or the last rename at Complete
 * would silently win. `existing` are the job's files, `added` the call's, all absolute (checkLocalName);
 * names are compared after normalisation ("/d//a", "/d/./a" and "/d/x/../a" are one file).
 * Symbolic links are not resolved: that needs the file system, and the directory may not exist yet.
 */
export function checkDistinctLocalNames(existing: readonly string[], added: readonly string[]): void {
  const taken = new Map<string, { name: string; added: boolean }>();
  for (const name of existing) taken.set(normalizeAbsolutePath(name), { name, added: false });
  added.forEach((name, i) => {
    const key = normalizeAbsolutePath(name);
    const other = taken.get(key);
    if (other !== undefined) {
      const same = other.name === name ? '' : ` (as ${JSON.stringify(other.name)})`;
      throw invalidArg(
        other.added
          ? `The local name ${JSON.stringify(name)} of file ${i + 1} of this call is given twice${same}; each file of a job needs its own local name.`
          : `The local name ${JSON.stringify(name)} is already the local name of another file of this job${same}; each file of a job needs its own local name.`,
      );
    }
    taken.set(key, { name, added: true });
  });
}

export function checkRanges(ranges: unknown, maxRanges: number): FileRange[] {
  if (!Array.isArray(ranges) || ranges.length === 0) throw invalidArg('Give at least one byte range.');
  if (ranges.length > maxRanges) {
    throw new BitsError('BG_E_TOO_MANY_RANGES_IN_FILE', `${ranges.length} ranges given; the limit per file is ${maxRanges}.`);
  }
  const out: FileRange[] = [];
  for (const r of ranges as unknown[]) {
    const { initialOffset, length } = (r ?? {}) as { initialOffset?: unknown; length?: unknown };
    if (!Number.isSafeInteger(initialOffset) || (initialOffset as number) < 0) {
      throw new BitsError('BG_E_INVALID_RANGE', `Range offset ${JSON.stringify(initialOffset)} is not a valid byte offset (BG_LENGTH_TO_EOF is not allowed as an offset).`);
    }
    if (!Number.isSafeInteger(length) || ((length as number) <= 0 && length !== BG_LENGTH_TO_EOF)) {
      throw new BitsError('BG_E_INVALID_RANGE', `Range length ${JSON.stringify(length)} must be positive or BG_LENGTH_TO_EOF.`);
    }
    // Offsets past 2^53 - 1 cannot be added or compared exactly: the end must be a safe integer too.
    if (length !== BG_LENGTH_TO_EOF && !Number.isSafeInteger((initialOffset as number) + (length as number))) {
      throw new BitsError('BG_E_INVALID_RANGE', `The range at offset ${String(initialOffset)} of ${String(length)} bytes ends past byte 2^53 - 1.`);
    }
    out.push({ initialOffset: initialOffset as number, length: length as number });
  }
  const sorted = [...out].sort((a, b) => a.initialOffset - b.initialOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as FileRange;
    const cur = sorted[i] as FileRange;
    if (prev.length === BG_LENGTH_TO_EOF || prev.initialOffset + prev.length > cur.initialOffset) {
      throw new BitsError('BG_E_OVERLAPPING_RANGES', `Ranges at offsets ${prev.initialOffset} and ${cur.initialOffset} overlap.`);
    }
  }
  return out;
}

export function checkProxySettings(usage: unknown, list: unknown, bypass: unknown): ProxySettings {
  if (!PROXY_USAGES.includes(usage as ProxyUsage)) {
    throw new BitsError('E_NOTIMPL', `Proxy usage must be one of ${PROXY_USAGES.join(', ')}; got ${JSON.stringify(usage)}.`);
  }
  const proxyList = list ?? null;
  const bypassList = bypass ?? null;
  if (proxyList !== null && !isString(proxyList)) throw invalidArg('The proxy list must be a string or null.');
  if (bypassList !== null && !isString(bypassList)) throw invalidArg('The proxy bypass list must be a string or null.');
  if (usage === 'OVERRIDE') {
    if (proxyList === null || proxyList.trim() === '') throw invalidArg('OVERRIDE needs a proxy list ("host:port ...").');
  } else if (proxyList !== null || bypassList !== null) {
    throw invalidArg(`Proxy and bypass lists must be null unless the usage is OVERRIDE (usage ${String(usage)}).`);
  }
  if (proxyList !== null && proxyList.length > LIMITS.proxyList) {
    throw new BitsError('BG_E_PROXY_LIST_TOO_LARGE', `The proxy list is ${proxyList.length} characters long; the limit is ${LIMITS.proxyList}.`);
  }
  if (proxyList !== null) {
    // The list is stored, shown by /info and returned by getProxySettings: a password in it would
    // leak there. Host names cannot contain "@", so any "@" is a user name or password. The entry
    // is not quoted back: the message would carry the password into logs and terminals.
    const entry = proxyList.split(/[\s;]+/).filter((e) => e !== '').findIndex((e) => e.includes('@'));
    if (entry >= 0) {
      throw invalidArg(
        `Proxy list entry ${entry + 1} contains a user name or password (user:password@); remove it and give the proxy credentials with setCredentials, target PROXY (bitsadmin /setcredentials JOB PROXY BASIC USER PASSWORD).`,
      );
    }
  }
  if (bypassList !== null && bypassList.length > LIMITS.proxyList) {
    throw new BitsError('BG_E_PROXY_BYPASS_LIST_TOO_LARGE', `The bypass list is ${bypassList.length} characters long; the limit is ${LIMITS.proxyList}.`);
  }
  return { usage: usage as ProxyUsage, proxyList, bypassList };
}

export function checkAuthTarget(target: unknown): AuthTarget {
  if (!AUTH_TARGETS.includes(target as AuthTarget)) {
    throw new BitsError('BG_E_INVALID_AUTH_TARGET', `Credential target must be SERVER or PROXY; got ${JSON.stringify(target)}.`);
  }
  return target as AuthTarget;
}

export function checkAuthScheme(scheme: unknown): AuthScheme {
  if (!AUTH_SCHEMES.includes(scheme as AuthScheme)) {
    throw new BitsError('BG_E_INVALID_AUTH_SCHEME', `Credential scheme must be one of ${AUTH_SCHEMES.join(', ')}; got ${JSON.stringify(scheme)}.`);
  }
  return scheme as AuthScheme;
}

export function checkCredentials(value: unknown): Credentials {
  const c = (value ?? {}) as Record<string, unknown>;
  const target = checkAuthTarget(c.target);
  const scheme = checkAuthScheme(c.scheme);
  const userName = c.userName ?? null;
  const password = c.password ?? null;
  if (userName !== null && !isString(userName)) throw invalidArg('userName must be a string or null.');
  if (password !== null && !isString(password)) throw invalidArg('password must be a string or null.');
  if (userName !== null && userName.length > LIMITS.userName) {
    throw new BitsError('BG_E_USERNAME_TOO_LARGE', `The user name is ${userName.length} characters long; the limit is ${LIMITS.userName}.`);
  }
  if (password !== null && password.length > LIMITS.password) {
    throw new BitsError('BG_E_PASSWORD_TOO_LARGE', `The password is longer than ${LIMITS.password} characters.`);
  }
  if ((scheme === 'BASIC' || scheme === 'DIGEST') && (userName === null || password === null)) {
    throw invalidArg(`${scheme} credentials need both a user name and a password.`);
  }
  return { target, scheme, userName, password };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Custom headers: "Name: value" lines, each ended by CRLF (a missing final CRLF is accepted),
 * at most 16,384 characters. Bare CR or LF inside a line would let a caller inject requests.
 */
export function checkCustomHeaders(headers: unknown): string | null {
  if (headers === null || headers === undefined) return null;
  if (!isString(headers)) throw invalidArg('Custom headers must be a string of "Name: value" lines, or null.');
  if (headers.length + 1 > LIMITS.customHeaders) {
    throw new BitsError('BG_E_STRING_TOO_LONG', `Custom headers are ${headers.length} characters long; the limit is ${LIMITS.customHeaders - 1}.`);
  }
  if (headers === '') return null;
  const body = headers.endsWith('\r\n') ? headers.slice(0, -2) : headers;
  // Messages name the line by number, never by content: a header line is often an API key.
  body.split('\r\n').forEach((line, i) => {
    if (/[\r\n\0]/.test(line)) throw invalidArg(`Custom headers must be separated by CRLF; line ${i + 1} has a bare CR, LF or NUL.`);
    const colon = line.indexOf(':');
    if (colon <= 0 || !HEADER_NAME.test(line.slice(0, colon))) {
      throw invalidArg(`Custom header line ${i + 1} is not "Name: value" (a header name, a colon, then the value).`);
    }
  });
  return headers;
}

export function checkSecurityFlags(flags: unknown): number {
  const value = checkDword(flags, 'The security flags');
  const unknown = (value & ~SECURITY_ALL_FLAGS) >>> 0;
  if (unknown !== 0) {
    throw invalidArg(`Security flags 0x${value.toString(16)} contain unknown bits (0x${unknown.toString(16)}).`);
  }
  if ((value & SECURITY.REDIRECT_POLICY_MASK) === 0x300) {
    throw invalidArg('Security flags name two redirect policies (0x100 and 0x200): choose one.');
  }
  return value;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function checkHttpMethod(method: unknown): string {
  if (!isString(method) || !TOKEN.test(method) || method.length > 64) {
    throw invalidArg(`HTTP method ${JSON.stringify(method)} is not a valid method token.`);
  }
  return method;
}

export function checkNotifyCmdLine(program: unknown, parameters: unknown): { program: string | null; parameters: string | null } {
  const prog = program ?? null;
  const params = parameters ?? null;
  if (prog === null) {
    if (params !== null) throw invalidArg('Notify parameters need a program.');
    return { program: null, parameters: null };
  }
  if (!isString(prog)) throw invalidArg('The notify program must be a string or null.');
  if (utf8Length(prog) > LIMITS.notifyProgram) {
    throw new BitsError('BG_E_STRING_TOO_LONG', `The notify program path is ${utf8Length(prog)} bytes long; the limit is ${LIMITS.notifyProgram} bytes (Linux's PATH_MAX).`);
  }
  // No PATH search and no expansion, as on Windows: the program must be an absolute path.
  checkLocalName(prog, 'The notify program');
  if (params !== null) {
    if (!isString(params)) throw invalidArg('Notify parameters must be a string or null.');
    if (params.length > LIMITS.notifyParameters) {
      throw new BitsError('BG_E_STRING_TOO_LONG', `Notify parameters are ${params.length} characters long; the limit is ${LIMITS.notifyParameters}.`);
    }
  }
  return { program: prog, parameters: params };
}

/** The '{8-4-4-4-12}' brace form bitsadmin prints, upper case; accepts it with or without braces. */
export function normalizeJobId(id: unknown): string {
  if (!isString(id)) throw invalidArg('A job id must be a GUID string.');
  const m = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/.exec(id);
  if (!m || m[1] === undefined) throw invalidArg(`${JSON.stringify(id)} is not a job id ({xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}).`);
  return `{${m[1].toUpperCase()}}`;
}
