/**
 * The plain job properties: state, type, progress counters, times, error count, owner, and the
 * get/set pairs for display name, description, priority, notify flags and command line, retry
 * delay, no-progress timeout and maximum download time.
 */
import type { NotifyCmdLine } from '../../api/types.js';
import { PRIORITIES, type Priority } from '../../job/types.js';
import { nullable, parseChoice, parseUnsigned } from '../args.js';
import { UsageError } from '../errors.js';
import { formatSize, formatTime, formatType, notifyCmdLineText, printable } from '../format.js';
import { isoTime, knownSize } from '../snapshot.js';
import type { VerbSpec } from '../types.js';
import { getter, setter } from './define.js';

const same = <T>(value: T): T => value;

const getters: VerbSpec[] = [
  getter({ name: 'getstate', summary: 'Print the job state (QUEUED, TRANSFERRING, ERROR, ...).', key: 'state', read: (j) => j.getState(), text: same }),
  getter({ name: 'gettype', summary: 'Print the job type: DOWNLOAD, UPLOAD or UPLOAD-REPLY.', key: 'type', read: (j) => j.getType(), text: formatType }),
  getter({
    name: 'getbytestotal',
    summary: 'Print the size of the job in bytes (UNKNOWN until every file size is known).',
    key: 'bytesTotal',
    read: async (j) => knownSize((await j.getProgress()).bytesTotal),
    text: formatSize,
  }),
  getter({ name: 'getbytestransferred', summary: 'Print the bytes transferred so far.', key: 'bytesTransferred', read: async (j) => (await j.getProgress()).bytesTransferred, text: String }),
  getter({ name: 'getfilestotal', summary: 'Print the number of files in the job.', key: 'filesTotal', read: async (j) => (await j.getProgress()).filesTotal, text: String }),
  getter({ name: 'getfilestransferred', summary: 'Print the number of files transferred.', key: 'filesTransferred', read: async (j) => (await j.getProgress()).filesTransferred, text: String }),
  getter({ name: 'getcreationtime', summary: 'Print when the job was created.', key: 'creationTime', read: async (j) => isoTime((await j.getTimes()).creationTime), text: formatTime }),
  getter({
    name: 'getmodificationtime',
    summary: 'Print when the job last changed.',
    key: 'modificationTime',
    read: async (j) => isoTime((await j.getTimes()).modificationTime),
    text: formatTime,
  }),
  getter({
    name: 'getcompletiontime',
    summary: 'Print when the job reached TRANSFERRED (UNKNOWN before).',
    key: 'transferCompletionTime',
    read: async (j) => {
      const t = (await j.getTimes()).transferCompletionTime;
      return t === null ? null : isoTime(t);
    },
    text: formatTime,
  }),
  getter({ name: 'geterrorcount', summary: 'Print how many times the transfer failed.', key: 'errorCount', read: (j) => j.getErrorCount(), text: String }),
  getter({ name: 'getowner', summary: 'Print the owner of the job.', key: 'owner', read: (j) => j.getOwner(), text: printable }),
  getter({ name: 'getdisplayname', summary: 'Print the display name.', key: 'displayName', read: (j) => j.getDisplayName(), text: printable }),
  getter({ name: 'getdescription', summary: 'Print the description.', key: 'description', read: (j) => j.getDescription(), text: printable }),
  getter({ name: 'getpriority', summary: 'Print the priority: FOREGROUND, HIGH, NORMAL or LOW.', key: 'priority', read: (j) => j.getPriority(), text: same }),
  getter({ name: 'getnotifyflags', summary: 'Print the notify flags (decimal).', key: 'notifyFlags', read: (j) => j.getNotifyFlags(), text: String }),
  getter<NotifyCmdLine>({
    name: 'getnotifycmdline',
    summary: "Print the program run when the job is transferred or fails ('PROGRAM' 'PARAMETERS', or none).",
    key: 'notifyCmdLine',
    read: (j) => j.getNotifyCmdLine(),
    text: notifyCmdLineText,
    json: (c) => ({ program: c.program, parameters: c.parameters }),
  }),
  getter({ name: 'getminretrydelay', summary: 'Print the minimum retry delay in seconds.', key: 'minRetryDelay', read: (j) => j.getMinimumRetryDelay(), text: String }),
  getter({
    name: 'getnoprogresstimeout',
    summary: 'Print the no-progress timeout in seconds.',
    key: 'noProgressTimeout',
    read: (j) => j.getNoProgressTimeout(),
    text: String,
  }),
  getter({
    name: 'getmaxdownloadtime',
    summary: 'Print the maximum transfer time in seconds (0: no limit).',
    key: 'maxDownloadTime',
    read: (j) => j.getMaximumDownloadTime(),
    text: String,
  }),
];

function only(rest: readonly string[]): string {
  return rest[0] as string;
}

function seconds(rest: readonly string[]): number {
  return parseUnsigned(only(rest), 'SECONDS');
}

const setters: VerbSpec[] = [
  setter({
    name: 'setdisplayname',
    usage: 'NAME',
    summary: 'Set the display name (at most 256 characters).',
    arity: [1, 1],
    parse: only,
    apply: async (j, name) => {
      await j.setDisplayName(name);
      return name;
    },
    text: (name) => `Display name set to ${printable(name)}.`,
    json: (displayName) => ({ displayName }),
  }),
  setter({
    name: 'setdescription',
    usage: 'DESCRIPTION',
    summary: 'Set the description (at most 1,024 characters).',
    arity: [1, 1],
    parse: only,
    apply: async (j, text) => {
      await j.setDescription(text);
      return text;
    },
    text: (text) => `Description set to ${printable(text)}.`,
    json: (description) => ({ description }),
  }),
  setter({
    name: 'setpriority',
    usage: 'FOREGROUND|HIGH|NORMAL|LOW',
    summary: 'Set the priority.',
    arity: [1, 1],
    parse: (rest): Priority => parseChoice(only(rest), PRIORITIES, 'The priority'),
    apply: async (j, p) => {
      await j.setPriority(p);
      return p;
    },
    text: (p) => `Priority set to ${p}.`,
    json: (priority) => ({ priority }),
  }),
  setter({
    name: 'setnotifyflags',
    usage: 'FLAGS',
    summary: 'Set the notify flags: 1 transferred, 2 error, 4 disable, 8 modification, 16 file transferred (decimal or 0x hex).',
    arity: [1, 1],
    parse: (rest) => parseUnsigned(only(rest), 'FLAGS'),
    apply: async (j, flags) => {
      await j.setNotifyFlags(flags);
      return flags;
    },
    text: (flags) => `Notification flags set to ${flags}.`,
    json: (notifyFlags) => ({ notifyFlags }),
  }),
  setter({
    name: 'setnotifycmdline',
    usage: 'PROGRAM|NULL [PARAMETERS|NULL]',
    summary: 'Run PROGRAM (an absolute path; no shell, no PATH search) when the job is transferred or fails; NULL clears.',
    arity: [1, 2],
    parse: (rest): NotifyCmdLine => {
      const program = nullable(rest[0]);
      const parameters = nullable(rest[1]);
      if (program === null && parameters !== null) {
        throw new UsageError('PARAMETERS need a PROGRAM; give NULL NULL to clear the command line.', '/setnotifycmdline JOB PROGRAM|NULL [PARAMETERS|NULL]');
      }
      return { program, parameters };
    },
    apply: async (j, c) => {
      await j.setNotifyCmdLine(c.program, c.parameters);
      return c;
    },
    text: (c) => (c.program === null ? 'Notification command line cleared.' : `Notification command line set to ${notifyCmdLineText(c)}.`),
    json: (c) => ({ notifyCmdLine: { program: c.program, parameters: c.parameters } }),
  }),
  setter({
    name: 'setminretrydelay',
    usage: 'SECONDS',
    summary: 'Set how long a job waits in TRANSIENT_ERROR before retrying (at least 5).',
    arity: [1, 1],
    parse: seconds,
    // Values under the 5-second floor are raised by the API: report what is in effect.
    apply: async (j, s) => {
      await j.setMinimumRetryDelay(s);
      return j.getMinimumRetryDelay();
    },
    text: (s) => `Minimum retry delay set to ${s}.`,
    json: (minRetryDelay) => ({ minRetryDelay }),
  }),
  setter({
    name: 'setnoprogresstimeout',
    usage: 'SECONDS',
    summary: 'Set how long a job may make no progress before it goes to ERROR (0: never retry).',
    arity: [1, 1],
    parse: seconds,
    apply: async (j, s) => {
      await j.setNoProgressTimeout(s);
      return s;
    },
    text: (s) => `No progress timeout set to ${s}.`,
    json: (noProgressTimeout) => ({ noProgressTimeout }),
  }),
  setter({
    name: 'setmaxdownloadtime',
    usage: 'SECONDS',
    summary: 'Set the maximum time the job may spend transferring (0: no limit).',
    arity: [1, 1],
    parse: seconds,
    apply: async (j, s) => {
      await j.setMaximumDownloadTime(s);
      return s;
    },
    text: (s) => `Maximum download time set to ${s}.`,
    json: (maxDownloadTime) => ({ maxDownloadTime }),
  }),
];

export const propertyVerbs: readonly VerbSpec[] = [...getters, ...setters];
