/**
 * Upload-reply jobs: /getreplyfilename, /setreplyfilename, /getreplyprogress, /getreplydata.
 */
import { arg, nullable } from '../args.js';
import { formatSize, hexDump, nullText, printable } from '../format.js';
import { knownSize } from '../snapshot.js';
import type { Outcome, VerbSpec } from '../types.js';
import { getter, setter } from './define.js';

const getreplydata: VerbSpec = {
  name: 'getreplydata',
  usage: 'JOB',
  summary: "Print the server's reply (upload-reply jobs, once TRANSFERRED) as a hex dump; base64 with --json.",
  arity: [1, 1],
  async run(ctx, args): Promise<Outcome> {
    const job = await ctx.job(arg(args, 0));
    const data = await job.getReplyData();
    if (data === null) return { text: '(no reply data)', raw: '', json: { replyData: null, length: 0 } };
    const bytes = Buffer.from(data);
    return {
      text: [`${bytes.length} byte(s) of reply data:`, ...hexDump(bytes)].join('\n'),
      raw: bytes.toString('hex'),
      json: { replyData: bytes.toString('base64'), length: bytes.length },
    };
  },
};

export const replyVerbs: readonly VerbSpec[] = [
  getter({
    name: 'getreplyfilename',
    summary: 'Print where the reply is saved (NULL: bitsd picks a name next to the upload file).',
    key: 'replyFileName',
    read: (j) => j.getReplyFileName(),
    text: nullText,
  }),
  setter({
    name: 'setreplyfilename',
    usage: 'PATH|NULL',
    summary: 'Set where the reply of an upload-reply job is saved (an absolute path; NULL: bitsd chooses).',
    arity: [1, 1],
    parse: (rest) => nullable(rest[0]),
    apply: async (j, path) => {
      await j.setReplyFileName(path);
      return path;
    },
    text: (path) => (path === null ? 'Reply file name cleared.' : `Reply file name set to ${printable(path)}.`),
    json: (replyFileName) => ({ replyFileName }),
  }),
  getter({
    name: 'getreplyprogress',
    summary: 'Print the reply download progress: TRANSFERRED / TOTAL bytes (UNKNOWN until it starts).',
    key: 'replyProgress',
    read: async (j) => {
      const p = await j.getReplyProgress();
      return { bytesTotal: knownSize(p.bytesTotal), bytesTransferred: p.bytesTransferred };
    },
    text: (p) => `${p.bytesTransferred} / ${formatSize(p.bytesTotal)}`,
  }),
  getreplydata,
];
