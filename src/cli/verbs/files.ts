/**
 * A job's files: /addfile, /addfileset, /addfilewithranges, /listfiles, /gettemporaryname,
 * /replaceremoteprefix.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FileInfo } from '../../api/types.js';
import { BG_LENGTH_TO_EOF, type FileRange } from '../../job/types.js';
import { localFileError } from '../../shared/os-errors.js';
import { arg, parseUnsigned, usageOf } from '../args.js';
import { UsageError } from '../errors.js';
import { fileLine, printable } from '../format.js';
import { readFiles } from '../snapshot.js';
import type { Outcome, VerbSpec } from '../types.js';

const addfile: VerbSpec = {
  name: 'addfile',
  usage: 'JOB REMOTE LOCAL',
  summary: 'Add a file: REMOTE is an http(s):// or file:// URL, LOCAL an absolute path.',
  arity: [3, 3],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const remoteName = arg(args, 1);
    const localName = arg(args, 2);
    await job.addFile(remoteName, localName);
    return { text: `Added ${printable(remoteName)} -> ${printable(localName)} to job.`, json: { id: job.id, added: [{ remoteName, localName }] } };
  },
};

/**
 * A list file: one "REMOTE LOCAL" pair a line, separated by white space; lines starting with #
 * and blank lines are skipped. URLs cannot hold spaces (they are %20-encoded), so everything
 * after the first run of white space is the local name, which may contain spaces or be quoted.
 */
export function parseFileSet(text: string, source: string): FileInfo[] {
  const files: FileInfo[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new UsageError(`${source} line ${i + 1}: expected "REMOTE LOCAL", got ${JSON.stringify(line)}.`, usageOf(addfileset));
    }
    const local = m[2].length >= 2 && m[2].startsWith('"') && m[2].endsWith('"') ? m[2].slice(1, -1) : m[2];
    files.push({ remoteName: m[1], localName: local });
  });
  if (files.length === 0) throw new UsageError(`${source} lists no files.`, usageOf(addfileset));
  return files;
}

const addfileset: VerbSpec = {
  name: 'addfileset',
  usage: 'JOB LISTFILE',
  summary: 'Add every "REMOTE LOCAL" line of LISTFILE (# starts a comment); all or nothing.',
  arity: [2, 2],
  async run(ctx, args): Promise<Outcome> {
    const path = resolve(ctx.io.cwd ?? process.cwd(), arg(args, 1));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw localFileError(err, `Cannot read the list file ${path}`);
    }
    const files = parseFileSet(text, path);
    const job = await ctx.job(arg(args, 0));
    await job.addFileSet(files);
    return { text: `Added ${files.length} file(s) to job.`, json: { id: job.id, added: files } };
  },
};

/** "0:100,2000:100,5000:eof": OFFSET:LENGTH pairs, LENGTH "eof" meaning to the end of the file. */
export function parseRanges(text: string): FileRange[] {
  const usage = usageOf(addfilewithranges);
  return text.split(',').map((part) => {
    const m = /^\s*([^:\s]+)\s*:\s*([^:\s]+)\s*$/.exec(part);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new UsageError(`Range ${JSON.stringify(part)} is not OFFSET:LENGTH (LENGTH may be eof).`, usage);
    }
    const initialOffset = parseUnsigned(m[1], 'A range offset', Number.MAX_SAFE_INTEGER);
    const length = m[2].toLowerCase() === 'eof' ? BG_LENGTH_TO_EOF : parseUnsigned(m[2], 'A range length', Number.MAX_SAFE_INTEGER);
    return { initialOffset, length };
  });
}

const addfilewithranges: VerbSpec = {
  name: 'addfilewithranges',
  usage: 'JOB REMOTE LOCAL RANGELIST',
  summary: 'Add a file of which only the given byte ranges are downloaded, e.g. 0:100,2000:100,5000:eof.',
  arity: [4, 4],
  async run(ctx, args): Promise<Outcome> {
    const ranges = parseRanges(arg(args, 3));
    const job = await ctx.job(arg(args, 0));
    const remoteName = arg(args, 1);
    const localName = arg(args, 2);
    await job.addFileWithRanges(remoteName, localName, ranges);
    return {
      text: `Added ${printable(remoteName)} -> ${printable(localName)} to job.`,
      json: { id: job.id, added: [{ remoteName, localName, ranges: ranges.map((r) => ({ initialOffset: r.initialOffset, length: r.length < 0 ? 'eof' : r.length })) }] },
    };
  },
};

const listfiles: VerbSpec = {
  name: 'listfiles',
  usage: 'JOB',
  summary: 'List the files of the job with their progress.',
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const files = await readFiles(job);
    const lines = files.map(fileLine);
    if (lines.length > 0) lines.push('');
    lines.push(`Listed ${files.length} file(s).`);
    return { text: lines.join('\n'), json: { files } };
  },
};

const gettemporaryname: VerbSpec = {
  name: 'gettemporaryname',
  usage: 'JOB FILE_INDEX',
  summary: 'Print the temporary file (BIT*.tmp) that file FILE_INDEX (0-based) is written to.',
  arity: [2, 2],
  async run(ctx, args): Promise<Outcome> {
    const index = parseUnsigned(arg(args, 1), 'FILE_INDEX');
    const job = await ctx.job(arg(args, 0));
    const files = await job.enumFiles();
    const file = files.find((f) => f.index === index);
    if (!file) throw new UsageError(`The job has ${files.length} file(s); FILE_INDEX ${index} does not exist (indexes start at 0).`, usageOf(gettemporaryname));
    const name = await file.getTemporaryName();
    return { text: printable(name), raw: printable(name), json: { temporaryName: name } };
  },
};

const replaceremoteprefix: VerbSpec = {
  name: 'replaceremoteprefix',
  usage: 'JOB OLD_PREFIX NEW_PREFIX',
  summary: 'Rewrite the remote names that start with OLD_PREFIX (download jobs; case-sensitive).',
  arity: [3, 3],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const oldPrefix = arg(args, 1);
    const result = await job.replaceRemotePrefix(oldPrefix, arg(args, 2));
    const text = result === 'S_OK' ? 'Remote prefix replaced.' : `No remote name starts with ${printable(oldPrefix)}; nothing changed (S_FALSE).`;
    return { text, json: { id: job.id, result } };
  },
};

export const fileVerbs: readonly VerbSpec[] = [addfile, addfileset, addfilewithranges, listfiles, gettemporaryname, replaceremoteprefix];
