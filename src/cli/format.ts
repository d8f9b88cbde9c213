/**
 * bitsadmin's text: the /list line, the /info block (short and /verbose), file lines, the error
 * block, times and sizes. Pure functions over the snapshot objects of snapshot.ts.
 *
 * Every string that comes from a job (names, descriptions, URLs, paths, server messages) goes
 * through printable(): it may hold newlines or terminal escape sequences, and text output must
 * keep one job to a line and send nothing to the terminal but text. --json prints exact values.
 */
import { ERROR_CONTEXTS, type ErrorContext, formatHresult } from '../shared/hresult.js';
import type { JobType, LimitSource } from '../job/types.js';
import { formatRate } from '../policy/rate.js';
import type { ErrorJson, FileJson, JobDetailsJson, JobJson, WaitingJson } from './snapshot.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with C0 controls, DEL and C1 controls escaped: \n, \r, \t, \x1b, \x7f, \u009b. C1
 * controls count because some terminals act on them (0x9B is CSI). Backslashes stay as they are:
 * names and paths use them, and the exact value is one --json away.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/**
 * bitsadmin's time format, "M/D/YYYY h:mm:ss AM", in the local time zone of the bitsadmin process
 * (TZ applies); null (a FILETIME of zero on Windows) prints as UNKNOWN.
 */
export function formatTime(iso: string | null): string {
  if (iso === null) return 'UNKNOWN';
  const d = new Date(iso);
  const h24 = d.getHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getMonth() + 1}/${d.getDate()}/${d.getFullYear()} ${h12}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${h24 < 12 ? 'AM' : 'PM'}`;
}

/** A byte count, or UNKNOWN for BG_SIZE_UNKNOWN. */
export function formatSize(n: number | null): string {
  return n === null ? 'UNKNOWN' : String(n);
}

/** bitsadmin spells the upload-reply type with a hyphen, as its /upload-reply switch. */
export function formatType(type: JobType): string {
  return type === 'UPLOAD_REPLY' ? 'UPLOAD-REPLY' : type;
}

export function formatFlags(flags: number): string {
  return `0x${flags.toString(16)}`;
}

/** "0 / 1 512 / UNKNOWN": files, then bytes. */
function counts(job: JobJson): string {
  const p = job.progress;
  return `${p.filesTransferred} / ${p.filesTotal} ${p.bytesTransferred} / ${formatSize(p.bytesTotal)}`;
}

/** One /list and /monitor line: "{GUID} 'name' STATE 0 / 1 0 / UNKNOWN". */
export function listLine(job: JobJson): string {
  return `${job.id} '${printable(job.displayName)}' ${job.state} ${counts(job)}`;
}

/** One file as bitsadmin shows it: "0 / UNKNOWN WORKING remote -> local". */
export function fileLine(f: FileJson): string {
  return `${f.bytesTransferred} / ${formatSize(f.bytesTotal)} ${f.completed ? 'COMPLETED' : 'WORKING'} ${printable(f.remoteName)} -> ${printable(f.localName)}`;
}

/** The three lines of /info without /verbose. */
export function infoHeader(job: JobJson): string[] {
  const p = job.progress;
  return [
    `GUID: ${job.id} DISPLAY: '${printable(job.displayName)}'`,
    `TYPE: ${formatType(job.type)} STATE: ${job.state} OWNER: ${printable(job.owner)}`,
    `PRIORITY: ${job.priority} FILES: ${p.filesTransferred} / ${p.filesTotal} BYTES: ${p.bytesTransferred} / ${formatSize(p.bytesTotal)}`,
  ];
}

/** A measured rate: "0 B/s", "812 B/s", "97.6 KiB/s", "1020 KiB/s", "1.02 MiB/s". */
export function formatSpeed(bytesPerSecond: number): string {
  const units = [['GiB/s', 2 ** 30], ['MiB/s', 2 ** 20], ['KiB/s', 2 ** 10]] as const;
  for (const [unit, size] of units) {
    if (bytesPerSecond < size) continue;
    // Three significant digits, in fixed notation (1020 KiB/s stays "1020 KiB/s").
    const value = bytesPerSecond / size;
    return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${unit}`;
  }
  return `${Math.round(bytesPerSecond)} B/s`;
}

const LIMIT_NAMES: Readonly<Record<LimitSource, string>> = {
  foreground: 'FOREGROUND',
  high: 'HIGH',
  normal: 'NORMAL',
  low: 'LOW',
  background: 'all background jobs together',
  yield: 'yielding to other traffic',
};

/** "since 12/7/2026 11:03:10 PM", or nothing when not known. */
function since(w: WaitingJson): string {
  return w.since === null ? '' : ` since ${formatTime(w.since)}`;
}

function detail(w: WaitingJson): string {
  return w.error === null ? '' : ` (${printable(w.error.code)}: ${printable(w.error.message)})`;
}

/** One line saying why a job is not moving and until when: the WAITING line of /info and /transfer. */
export function waitingText(w: WaitingJson, type: JobType): string {
  switch (w.reason) {
    case 'SUSPENDED':
      return 'suspended; /resume to go on';
    case 'RETRY_DELAY':
      return `retry at ${formatTime(w.until)} after error ${w.attempts ?? 0}${detail(w)}`;
    case 'OFFLINE':
      return `offline${since(w)}; goes on by itself when the network is back`;
    case 'COST_POLICY':
      return `the network is too expensive for the transfer policy${since(w)}${detail(w)}`;
    case 'BATTERY':
      return `on battery${since(w)} (power.pauseOnBattery); goes on by itself on mains power`;
    case 'BANDWIDTH_POLICY': {
      const until = w.until === null ? 'until the config changes (no schedule entry lifts it)' : `until ${formatTime(w.until)}`;
      return `the bandwidth policy holds ${LIMIT_NAMES[w.by ?? 'background']} at 0 ${until}`;
    }
    case 'BACKGROUND_SLOT':
      return `for a background transfer slot (${w.ahead ?? 0} ahead)`;
    case 'FOREGROUND_SLOT':
      return `for a foreground transfer slot (${w.ahead ?? 0} ahead)`;
    case 'ERROR':
      return `stopped on an error${detail(w)}; /resume to try again`;
    case 'AWAITING_COMPLETE':
      return `transferred; /complete to ${type === 'UPLOAD' ? 'acknowledge it' : 'deliver the files'}`;
    case 'CANCEL_SESSION_OWED':
      return `cancelled; telling the server (Cancel-Session attempt ${w.attempts ?? 0}, next at ${formatTime(w.until)})${detail(w)}`;
  }
}

/**
 * What /info adds to bitsadmin's lines: a running job's rate and the limit slowing it
 * ("RATE: 1.00 MiB/s LIMIT: 1 MiB/s (policy: NORMAL)"), or why the job is not moving (WAITING).
 */
export function transferLines(job: JobDetailsJson): string[] {
  const t = job.transfer;
  if (t.waiting) return [`WAITING: ${waitingText(t.waiting, job.type)}`];
  if (job.state !== 'CONNECTING' && job.state !== 'TRANSFERRING') return [];
  let limit = 'none';
  if (t.limit?.by === 'yield') limit = `${formatSpeed(t.limit.bytesPerSecond)} (${LIMIT_NAMES.yield})`;
  else if (t.limit) limit = `${formatRate(t.limit.bytesPerSecond)} (policy: ${LIMIT_NAMES[t.limit.by]})`;
  return [`RATE: ${formatSpeed(t.bytesPerSecond)} LIMIT: ${limit}`];
}

function contextValue(context: string): number {
  return Object.hasOwn(ERROR_CONTEXTS, context) ? ERROR_CONTEXTS[context as ErrorContext] : ERROR_CONTEXTS.UNKNOWN;
}

/** "ERROR FILE:    remote -> local", or nothing when the error is not about one file. */
export function errorFileLines(e: ErrorJson): string[] {
  return e.file ? [`ERROR FILE:    ${printable(e.file.remoteName)} -> ${printable(e.file.localName)}`] : [];
}

export function errorContextLine(e: ErrorJson): string {
  return `ERROR CONTEXT: ${formatHresult(contextValue(e.context))} - ${printable(e.contextDescription)}`;
}

/** /geterror and the error part of /info /verbose. */
export function errorLines(e: ErrorJson): string[] {
  const lines = errorFileLines(e);
  lines.push(`ERROR CODE:    ${formatHresult(e.hresult)} - ${printable(e.description)}`);
  lines.push(errorContextLine(e));
  if (e.message && e.message !== e.description) lines.push(`ERROR DETAIL:  ${printable(e.message)}`);
  return lines;
}

function quoted(value: string | null): string {
  return value === null ? 'NULL' : `'${printable(value)}'`;
}

export function notifyCmdLineText(c: { program: string | null; parameters: string | null }): string {
  return c.program === null ? 'none' : `${quoted(c.program)} ${quoted(c.parameters)}`;
}

/** The /info /verbose block, in bitsadmin's line order; bitsd's extra settings come last. */
export function infoVerbose(job: JobDetailsJson): string[] {
  const lines = infoHeader(job);
  lines.push(`CREATION TIME: ${formatTime(job.times.creationTime)} MODIFICATION TIME: ${formatTime(job.times.modificationTime)}`);
  lines.push(`COMPLETION TIME: ${formatTime(job.times.transferCompletionTime)}`);
  // A command-line client cannot hold a COM-style callback, so none is ever registered from here.
  lines.push(`NOTIFY INTERFACE: UNREGISTERED NOTIFICATION FLAGS: ${job.notifyFlags}`);
  lines.push(`RETRY DELAY: ${job.minRetryDelay} NO PROGRESS TIMEOUT: ${job.noProgressTimeout} ERROR COUNT: ${job.errorCount}`);
  lines.push(`PROXY USAGE: ${job.proxy.usage} PROXY LIST: ${nullText(job.proxy.proxyList)} PROXY BYPASS LIST: ${nullText(job.proxy.bypassList)}`);
  if (job.error) lines.push(...errorLines(job.error));
  lines.push(`DESCRIPTION: ${printable(job.description)}`);
  lines.push('JOB FILES:');
  for (const f of job.files) lines.push(`\t${fileLine(f)}`);
  lines.push(`NOTIFICATION COMMAND LINE: ${notifyCmdLineText(job.notifyCmdLine)}`);
  lines.push(`CUSTOM HEADERS: ${customHeadersText(job)}`);
  lines.push(`MAX DOWNLOAD TIME: ${job.maxDownloadTime} SECURITY FLAGS: ${formatFlags(job.securityFlags)} HTTP METHOD: ${printable(job.httpMethod)}`);
  lines.push(`CLIENT CERTIFICATE: ${certificateText(job.clientCertificate)}`);
  if (job.reply) {
    lines.push(`REPLY FILE: ${nullText(job.reply.fileName)} REPLY PROGRESS: ${job.reply.progress.bytesTransferred} / ${formatSize(job.reply.progress.bytesTotal)}`);
  }
  // bitsd's own: the rate and the limit on it, or why the job waits.
  lines.push(...transferLines(job));
  return lines;
}

function customHeadersText(job: JobDetailsJson): string {
  if (job.customHeadersWriteOnly) return '(write-only)';
  return job.customHeaders === null ? 'NULL' : job.customHeaders.map(printable).join(' | ');
}

/** A value that may be null, for text: NULL, or the value made printable. */
export function nullText(value: string | null): string {
  return value === null ? 'NULL' : printable(value);
}

/** "CERT[ KEY: KEY]" or NULL. */
export function certificateText(cert: { readonly certFile: string; readonly keyFile: string | null } | null): string {
  if (cert === null) return 'NULL';
  return cert.keyFile === null ? printable(cert.certFile) : `${printable(cert.certFile)} KEY: ${printable(cert.keyFile)}`;
}

/**
 * /getreplydata: 16 bytes a row, "0000: 48 65 ...  Hello..." (offset, hex, printable ASCII),
 * the layout of bitsadmin's dump.
 */
export function hexDump(data: Buffer): string[] {
  const lines: string[] = [];
  for (let offset = 0; offset < data.length; offset += 16) {
    const row = data.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(4, '0')}: ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines;
}
