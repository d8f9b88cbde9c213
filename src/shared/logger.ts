/**
 * The structured logger: one line per event, JSON or logfmt, filtered by level, written to a
 * function (the daemon passes stderr). Every message and field goes through redact() first, so a
 * password, an Authorization/Proxy-Authorization/Cookie header, a custom header's value, a proxy
 * URL's user:password or a credentials object can never reach a log, whoever logs it.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'logfmt'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Receives each line, newline included. */
  readonly write: (line: string) => void;
  readonly now?: () => Date;
}

export const REDACTED = '[REDACTED]';

/** Field names whose values are secrets whatever they hold. */
const SECRET_KEY = /^(pass(word|wd|phrase)?|secret|client[-_]?secret|token|access[-_]?token|refresh[-_]?token|api[-_]?key|private[-_]?key|authorization|proxy[-_]?authorization|www[-_]?authenticate|cookie|set[-_]?cookie|credentials?)$/i;
/** Header lines inside strings (custom headers, raw requests): keep the name, drop the value. */
const SECRET_HEADER_LINE = /^([ \t]*(?:authorization|proxy-authorization|cookie|set-cookie)[ \t]*:)[^\r\n]*/gim;
/** user:password@ in URLs. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s/?#@]*@/gi;
/**
 * Fields holding header blocks or maps (IPC setCustomHeaders' `headers`, a job's `customHeaders`):
 * custom headers often carry API keys, so every value goes, whatever the header's name.
 */
const HEADERS_KEY = /^(custom[-_]?)?headers$/i;
/** A header line's name and colon. */
const HEADER_NAME_PART = /^([ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*:).*$/;
/** Fields holding proxy lists: entries are "[proto=][scheme://][user[:password]@]host[:port]". */
const PROXY_LIST_KEY = /^proxy[-_]?list$/i;
const PROXY_USERINFO = /(^|[\s;])([a-z]+=)?([a-z][a-z0-9+.-]*:\/\/)?[^\s;]*@/gi;
const MAX_DEPTH = 6;
const MAX_ITEMS = 50;
const MAX_STRING = 4096;

export function redactString(text: string): string {
  const cut = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}...(${text.length - MAX_STRING} more)` : text;
  return cut.replace(SECRET_HEADER_LINE, `$1 ${REDACTED}`).replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/** Every line of a header block with its value replaced; a line that is not "Name: value" goes whole. */
export function redactHeaderBlock(text: string): string {
  return text
    .split(/(\r\n|\r|\n)/)
    .map((part, i) => (i % 2 === 1 || part.trim() === '' ? part : HEADER_NAME_PART.test(part) ? part.replace(HEADER_NAME_PART, `$1 ${REDACTED}`) : REDACTED))
    .join('');
}

function redactField(key: string, value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || value === undefined) return value;
  if (SECRET_KEY.test(key)) return REDACTED;
  if (HEADERS_KEY.test(key)) {
    if (typeof value === 'string') return redactString(redactHeaderBlock(value));
    if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => (typeof v === 'string' ? redactString(redactHeaderBlock(v)) : REDACTED));
    if (typeof value === 'object') return Object.fromEntries(Object.keys(value).slice(0, MAX_ITEMS).map((name) => [name, REDACTED]));
  }
  if (PROXY_LIST_KEY.test(key) && typeof value === 'string') return redactString(value.replace(PROXY_USERINFO, `$1$2$3${REDACTED}@`));
  return redact(value, depth + 1, seen);
}

/**
 * A loggable copy of any value with secrets removed: secret-named fields are replaced, header
 * fields keep their header names only, proxy lists lose user:password@, strings lose credential
 * headers and URL passwords, errors keep name/code/message, and depth, size and cycles are bounded
 * so any value can be passed safely.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return String(value);
    return value;
  }
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[...]';
  seen.add(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = redact(code, depth + 1, seen);
    const hresult = (value as { hresult?: unknown }).hresult;
    if (typeof hresult === 'number') out.hresult = `0x${(hresult >>> 0).toString(16).padStart(8, '0')}`;
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => redact(v, depth + 1, seen));
    if (value.length > MAX_ITEMS) items.push(`...(${value.length - MAX_ITEMS} more)`);
    return items;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [key, v] of Object.entries(value)) {
    if (n++ >= MAX_ITEMS) {
      out['...'] = 'more fields';
      break;
    }
    out[key] = redactField(key, v, depth, seen);
  }
  return out;
}

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogFormat(value: unknown): value is LogFormat {
  return typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value);
}

function logfmtValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return text === '' || /[\s"=\\]|[^\x21-\x7e]/.test(text) ? JSON.stringify(text) : text;
}

function logfmtKey(key: string): string {
  const clean = key.replace(/[^A-Za-z0-9_.:-]/g, '_');
  return clean === '' ? '_' : clean;
}

export function formatLine(format: LogFormat, record: Readonly<Record<string, unknown>>): string {
  if (format === 'json') return `${JSON.stringify(record)}\n`;
  return `${Object.entries(record)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${logfmtKey(k)}=${logfmtValue(v)}`)
    .join(' ')}\n`;
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'json';
  const now = options.now ?? (() => new Date());
  const enabled = (l: LogLevel): boolean => RANK[l] <= RANK[level];
  const log = (l: LogLevel, msg: string, fields: LogFields | undefined): void => {
    if (!enabled(l)) return;
    const clean = redact({ ...base, ...fields }) as Record<string, unknown>;
    // time, level and msg come first and cannot be overridden by a field of the same name.
    const record: Record<string, unknown> = { time: now().toISOString(), level: l, msg: redactString(msg) };
    for (const [k, v] of Object.entries(clean)) record[Object.hasOwn(record, k) ? `field.${k}` : k] = v;
    try {
      options.write(formatLine(format, record));
    } catch {
      // A log that cannot be written must not take the daemon down.
    }
  };
  return {
    level,
    enabled,
    error: (msg, fields) => log('error', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    debug: (msg, fields) => log('debug', msg, fields),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that drops everything (library default, tests). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });
