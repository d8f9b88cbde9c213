/**
 * Every bitsadmin verb of issue 5 through the real binaries: each invocation is its own
 * `dist/src/bin/bitsadmin.js --socket S` process talking to one spawned `bitsd` (temp data
 * directory and socket), in text and in --json form. Getters are checked against the value the
 * setter before them wrote, setters against the confirmation text and the JSON shape of
 * docs/cli.md. Transfers go to and from a reference bits-server on 127.0.0.1 (port 0) started by
 * this file; URLs of jobs that stay SUSPENDED are never contacted. Bad command lines (unknown verb,
 * missing arguments, unknown job, ambiguous name, ...) are checked for their exit status, the
 * stderr line and the --json error document.
 *
 * The groups run in order against the one daemon and share its queue: `queue` is what this file
 * believes the queue holds, and /reset and /list are checked against it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTime } from '../../src/cli/format.js';
import { type BitsServer, startBitsServer } from '../../src/server/index.js';
import { BITSADMIN, BITSD, runBitsadmin, type RunOptions, spawnDaemon, type SpawnedDaemon } from '../daemon/spawn.js';

const GUID = /^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** One bitsadmin process may take this long before it is killed (and the test fails). */
const RUN_TIMEOUT_MS = 15_000;
/**
 * At most this many bitsadmin processes at once (each is ~150 ms of CPU, partly spent waiting on
 * the daemon; two cores). Independent invocations are started together and wait here for a slot.
 */
const MAX_PROCESSES = 3;
/** Per test: a group runs 20-50 processes, in ~5 s on an idle machine; room for a loaded one. */
const GROUP_TIMEOUT_MS = 90_000;

/** The verbs issue 5 lists (plus /getclientcertificate, the getter of the certificate pair). */
const ISSUE_VERBS = [
  'create', 'addfile', 'addfileset', 'addfilewithranges', 'listfiles', 'resume', 'suspend', 'cancel', 'complete', 'reset',
  'list', 'info', 'monitor', 'transfer', 'getstate', 'gettype', 'getbytestotal', 'getbytestransferred', 'getfilestotal',
  'getfilestransferred', 'getcreationtime', 'getmodificationtime', 'getcompletiontime', 'geterror', 'geterrorcount',
  'getdisplayname', 'setdisplayname', 'getdescription', 'setdescription', 'getpriority', 'setpriority', 'getnotifyflags',
  'setnotifyflags', 'getnotifycmdline', 'setnotifycmdline', 'getminretrydelay', 'setminretrydelay', 'getnoprogresstimeout',
  'setnoprogresstimeout', 'getmaxdownloadtime', 'setmaxdownloadtime', 'setproxysettings', 'getproxyusage', 'getproxylist',
  'getproxybypasslist', 'setcredentials', 'removecredentials', 'getcustomheaders', 'setcustomheaders',
  'makecustomheaderswriteonly', 'getsecurityflags', 'setsecurityflags', 'gethttpmethod', 'sethttpmethod',
  'setclientcertificatebyname', 'getclientcertificate', 'removeclientcertificate', 'gettemporaryname', 'replaceremoteprefix',
  'getreplyfilename', 'setreplyfilename', 'getreplyprogress', 'getreplydata', 'getowner',
] as const;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}


/** Verb -> the forms ('text', 'json') in which an invocation of it exited 0 (help runs are not counted). */
const succeeded = new Map<string, Set<'text' | 'json'>>();
let running = 0;
const waiting: Array<() => void> = [];

/** Runs one bitsadmin process against the daemon of this file and waits for it to exit. */
async function bitsadmin(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  while (running >= MAX_PROCESSES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await runOnce(args, options);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

async function runOnce(args: readonly string[], options: RunOptions): Promise<Run> {
  const run = await runBitsadmin(['--socket', socket, ...args], { ...options, timeoutMs: RUN_TIMEOUT_MS });
  if (run.code === 0) record(args);
  return run;
}

function record(args: readonly string[]): void {
  const globals = new Set(['--json', '/rawreturn']);
  const verb = args.find((a) => !globals.has(a.toLowerCase()));
  if (verb === undefined || args.includes('/?')) return;
  const name = verb.replace(/^\//, '').toLowerCase();
  const forms = succeeded.get(name) ?? new Set();
  forms.add(args.some((a) => a.toLowerCase() === '--json') ? 'json' : 'text');
  succeeded.set(name, forms);
}

const show = (args: readonly string[]): string => `bitsadmin ${args.join(' ')}`;

/**
 * Promise.all that lets every invocation finish before it fails, so no process of a failed test
 * is still running (and changing the queue) when the next test starts.
 */
async function all<const T extends readonly unknown[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** A verb that must succeed: exit 0, nothing on stderr. Returns stdout. */
async function ok(args: readonly string[], options: RunOptions = {}): Promise<string> {
  const r = await bitsadmin(args, options);
  expect({ code: r.code, stderr: r.stderr }, `${show(args)}\n${r.stdout}`).toEqual({ code: 0, stderr: '' });
  return r.stdout;
}

/** The same with --json: returns the one document on stdout. */
async function json(args: readonly string[], options: RunOptions = {}): Promise<unknown> {
  const out = await ok(['--json', ...args], options);
  return JSON.parse(out) as unknown;
}

interface Failure {
  readonly exit: number;
  readonly code: string;
  readonly hresult: number;
  readonly message: string;
  readonly description: string;
  /** The verb's usage line, printed after the error for command-line mistakes. */
  readonly usage?: string;
}

/**
 * A verb that must fail: with --json, the error document on stdout and the ERROR line (and the
 * Usage line of a command-line mistake) on stderr; unless `jsonOnly`, also in text, where stdout
 * stays empty and stderr gets the same text.
 */
async function fails(args: readonly string[], f: Failure, jsonOnly = false): Promise<void> {
  const line = `ERROR: 0x${f.hresult.toString(16).padStart(8, '0')} ${f.code} - ${f.description} (${f.message})\n${f.usage ? `Usage: bitsadmin ${f.usage}\n` : ''}`;
  const [j, t] = await all([bitsadmin(['--json', ...args]), jsonOnly ? null : bitsadmin(args)]);
  expect({ code: j.code, stderr: j.stderr }, show(['--json', ...args])).toEqual({ code: f.exit, stderr: line });
  expect(JSON.parse(j.stdout)).toEqual({ error: { hresult: f.hresult, code: f.code, context: 'NONE', message: f.message, description: f.description } });
  if (t) expect({ code: t.code, stdout: t.stdout, stderr: t.stderr }, show(args)).toEqual({ code: f.exit, stdout: '', stderr: line });
}

/**
 * One row of a verb table. `text`: the stdout of the plain run, without the final newline.
 * `raw`: the stdout with /rawreturn. `json`: the --json document. A getter row with several of
 * them runs those invocations side by side: they only read.
 */
interface Step {
  readonly args: readonly string[];
  readonly text?: string;
  readonly raw?: string;
  readonly json?: unknown;
}

/** Runs the rows in order (a setter before the getter that reads it back). */
async function steps(rows: readonly Step[]): Promise<void> {
  for (const row of rows) {
    const runs: Array<Promise<void>> = [];
    if (row.text !== undefined) {
      const want = `${row.text}\n`;
      runs.push(ok(row.args).then((out) => expect(out, show(row.args)).toBe(want)));
    }
    if (row.raw !== undefined) {
      const want = row.raw;
      runs.push(ok(['/rawreturn', ...row.args]).then((out) => expect(out, show(['/rawreturn', ...row.args])).toBe(want)));
    }
    if (row.json !== undefined) {
      const want = row.json;
      runs.push(json(row.args).then((doc) => expect(doc, show(['--json', ...row.args])).toEqual(want)));
    }
    if (runs.length === 0) throw new Error(`step ${show(row.args)} checks nothing`);
    await all(runs);
  }
}

/** Independent sequences of rows (one property each), side by side; each sequence stays in order. */
async function chains(...lists: ReadonlyArray<readonly Step[]>): Promise<void> {
  await all(lists.map((rows) => steps(rows)));
}

/** Polls the job's state through bitsadmin until it is `want` (bounded). */
async function waitForState(id: string, want: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    state = await ok(['/rawreturn', '/getstate', id]);
    if (state === want) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`job ${id} is ${state}, not ${want}, after ${timeoutMs} ms`);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** bitsadmin's reply dump, written out independently: offset, 16 hex bytes, printable ASCII. */
function hexRows(data: Buffer): string[] {
  const rows: string[] = [];
  for (let at = 0; at < data.length; at += 16) {
    const row = [...data.subarray(at, at + 16)];
    const hex = row.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${at.toString(16).padStart(4, '0')}: ${hex.padEnd(16 * 3 - 1)}  ${ascii}`);
  }
  return rows;
}

let dir: string;
let out: string;
let socket: string;
let daemon: SpawnedDaemon | undefined;
let server: BitsServer | undefined;
let srvRoot: string;
let url: string;
/** Served by bits-server as ${url}/files/data.bin. */
let served: Buffer;
const owner = `uid:${process.getuid?.() ?? 0}`;
/** The jobs this file has left in the queue: id -> display name. */
const queue = new Map<string, string>();

beforeAll(async () => {
  for (const bin of [BITSADMIN, BITSD]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build with "npx tsc -p tsconfig.json" first`);
  }
  dir = await mkdtemp(join(tmpdir(), 'bitsd-spawned-'));
  out = join(dir, 'out');
  srvRoot = join(dir, 'srv');
  await mkdir(out);
  await mkdir(join(srvRoot, 'files'), { recursive: true });
  served = randomBytes(256 * 1024 + 5);
  await writeFile(join(srvRoot, 'files', 'data.bin'), served);
  server = await startBitsServer({
    root: srvRoot,
    // The reply names the upload's size and digest: a right reply proves the server got the right bytes.
    replyHandler: async (uploaded) => {
      const data = await readFile(uploaded);
      return { body: `stored ${data.length} bytes sha256=${sha256(data)}` };
    },
  });
  url = server.url;
  socket = join(dir, 'run', 'bitsd.sock');
  daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket, scope: 'file' });
});

afterAll(async () => {
  try {
    if (daemon) {
      const exit = await daemon.stop('SIGTERM');
      expect(exit.code).toBe(0);
    }
  } finally {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

/** /create through the binary (text form); remembers the job as queued. */
async function create(name: string, ...flags: string[]): Promise<string> {
  const id = await ok(['/rawreturn', '/create', ...flags, name]);
  expect(id).toMatch(GUID);
  queue.set(id, name);
  return id;
}

const E_INVALIDARG = { exit: 2, code: 'E_INVALIDARG', hresult: 0x80070057, description: 'The parameter is incorrect.' } as const;
const BG_E_NOT_FOUND = { exit: 1, code: 'BG_E_NOT_FOUND', hresult: 0x80200001, description: 'The requested job was not found.' } as const;

describe('bitsadmin and bitsd as separate processes', { timeout: GROUP_TIMEOUT_MS }, () => {
  it('/help and VERB /? list every verb of the issue, in text and JSON', async () => {
    const [help, doc, one, oneJson] = await all([ok(['/help']), json(['/help']), ok(['GetState', '/?']), json(['/help', '/getstate'])]);
    expect(help.startsWith('BITSADMIN version 3.0 [ bitsd ]\n')).toBe(true);
    const names = (doc as { verbs: Array<{ name: string; usage: string }> }).verbs.map((v) => v.name);
    for (const verb of ISSUE_VERBS) {
      expect(help, verb).toMatch(new RegExp(`^  /${verb}( |$)`, 'm'));
      expect(names).toContain(verb);
    }
    expect(one).toBe('Usage: bitsadmin /getstate JOB\n  Print the job state (QUEUED, TRANSFERRING, ERROR, ...).\n');
    expect(oneJson).toEqual({ verbs: [{ name: 'getstate', usage: '/getstate JOB', summary: 'Print the job state (QUEUED, TRANSFERRING, ERROR, ...).' }] });
  });

  it('bad command lines: exit 2, the ERROR line (and usage) on stderr, the error document with --json', async () => {
    await all([
      fails(['/frobnicate', 'x'], { ...E_INVALIDARG, message: 'Unknown verb /frobnicate; bitsadmin /help lists the verbs.' }),
      fails(['/addfile', 'x'], { ...E_INVALIDARG, message: '/addfile needs JOB REMOTE LOCAL.', usage: '/addfile JOB REMOTE LOCAL' }),
      fails(['/getstate', 'a', 'b'], { ...E_INVALIDARG, message: '/getstate takes JOB; unexpected "b".', usage: '/getstate JOB' }, true),
      fails(
        ['/setminretrydelay', 'x', 'soon'],
        { ...E_INVALIDARG, message: 'SECONDS must be a whole number (decimal or 0x hex); got "soon".', usage: '/setminretrydelay JOB SECONDS' },
        true,
      ),
      fails(
        ['/list', '--json'],
        {
          ...E_INVALIDARG,
          message: 'Unknown option --json: --socket and --json go before the verb (use -- before an argument that starts with --).',
          usage: '/list [/allusers] [/verbose]',
        },
        true,
      ),
      fails(
        ['/takeownership', 'x'],
        {
          exit: 2,
          code: 'E_NOTIMPL',
          hresult: 0x80004001,
          description: 'The method is not implemented.',
          message: '/takeownership is not supported by bitsd: ownership follows the Unix user that created the job.',
        },
        true,
      ),
    ]);
  });

  it('jobs: /create in three spellings, names and GUIDs, unknown and ambiguous names, /resume, /suspend, /cancel', async () => {
    // /create: text, --json and /rawreturn; `create` without the slash; /gettype in each form.
    const created = await ok(['/create', '/download', 'alpha']);
    const alpha = /^created job (\{[0-9A-F-]{36}\})\n$/.exec(created)?.[1] as string;
    expect(alpha).toMatch(GUID);
    queue.set(alpha, 'alpha');
    const betaDoc = (await json(['create', '/upload', 'beta'])) as { id: string };
    expect(Object.keys(betaDoc)).toEqual(['id']);
    expect(betaDoc.id).toMatch(GUID);
    const beta = betaDoc.id;
    queue.set(beta, 'beta');
    const gamma = await create('gamma', '/UPLOAD-REPLY');
    await chains(
      [{ args: ['/gettype', alpha], text: 'DOWNLOAD' }],
      [{ args: ['/gettype', beta], json: { type: 'UPLOAD' } }],
      [{ args: ['/gettype', gamma], raw: 'UPLOAD-REPLY', json: { type: 'UPLOAD_REPLY' } }],
      // A job is named by its display name (case-insensitive when no exact match) or its GUID, braces optional.
      [{ args: ['/getdisplayname', 'ALPHA'], text: 'alpha' }],
      [{ args: ['/getdisplayname', alpha.slice(1, -1).toLowerCase()], json: { displayName: 'alpha' } }],
      [{ args: ['/getstate', 'beta'], json: { state: 'SUSPENDED' } }],
    );

    const nobody = '{00000000-0000-0000-0000-000000000000}';
    await all([
      fails(['/getstate', 'nosuch'], { ...BG_E_NOT_FOUND, message: "No job named 'nosuch' in the queue (/list shows the jobs)." }),
      fails(['/getstate', nobody], { ...BG_E_NOT_FOUND, message: `No job ${nobody} in the queue.` }, true),
      // An API failure reported by the daemon: resuming a job without files.
      fails(
        ['/resume', alpha],
        {
          exit: 1,
          code: 'BG_E_EMPTY',
          hresult: 0x80200003,
          description: 'There are currently no files attached to this job.',
          message: 'Cannot resume a job that has no files: add a file first.',
        },
        true,
      ),
    ]);

    // A second 'alpha' (created with the verb in capitals): the name is ambiguous, its GUIDs listed.
    const alpha2 = await ok(['/rawreturn', 'CREATE', 'alpha']);
    expect(alpha2).toMatch(GUID);
    queue.set(alpha2, 'alpha');
    // The GUIDs are listed in queue order, the order of /list.
    const { jobs } = (await json(['/list'])) as { jobs: Array<{ id: string }> };
    const twins = jobs.map((j) => j.id).filter((id) => id === alpha || id === alpha2);
    expect(twins).toHaveLength(2);
    await fails(['/getstate', 'alpha'], { ...E_INVALIDARG, message: `The name 'alpha' matches 2 jobs: ${twins.join(', ')}; name the job by its GUID.` });

    // /resume and /suspend in both forms. Nothing listens on port 9: the job fails to connect and waits
    // out its retry delay (600 s) in TRANSIENT_ERROR until it is suspended.
    await ok(['/addfile', alpha, 'http://127.0.0.1:9/alpha.bin', join(out, 'alpha.bin')]);
    expect(await ok(['/resume', alpha])).toBe('Job resumed.\n');
    expect(await json(['/suspend', alpha])).toEqual({ id: alpha, state: 'SUSPENDED' });
    expect(await json(['/resume', alpha])).toEqual({ id: alpha, state: expect.stringMatching(/^(QUEUED|CONNECTING|TRANSIENT_ERROR)$/) });
    expect(await ok(['/suspend', alpha])).toBe('Job suspended.\n');

    // /cancel in both forms: the jobs leave the queue.
    const [cancelText, cancelJson] = await all([ok(['/cancel', alpha2]), json(['/cancel', beta])]);
    expect(cancelText).toBe('Job canceled.\n');
    expect(cancelJson).toEqual({ id: beta, state: 'CANCELLED', result: 'S_OK' });
    queue.delete(alpha2);
    queue.delete(beta);
    // 'alpha' is no longer ambiguous, and is SUSPENDED; beta is gone.
    await all([
      steps([{ args: ['/getstate', 'alpha'], raw: 'SUSPENDED' }]),
      fails(['/getstate', beta], { ...BG_E_NOT_FOUND, message: `No job ${beta} in the queue.` }, true),
    ]);
  });

  it('files: /addfile, /addfileset, /addfilewithranges, /listfiles, /gettemporaryname, /replaceremoteprefix and the counters', async () => {
    const id = await create('files');
    const r = (name: string, prefix = 'a'): string => `${url}/${prefix}/${name}`;
    const l = (name: string): string => join(out, name);
    await writeFile(join(dir, 'set.txt'), `# a list file\n\n${r('three.bin')} ${l('three.bin')}\n${r('four.bin')}   "${l('four with spaces.bin')}"\n`);
    await writeFile(join(dir, 'set2.txt'), `${r('five.bin')} ${l('five.bin')}\n`);
    // In order: the indexes follow.
    await steps([
      { args: ['/addfile', id, r('one.bin'), l('one.bin')], text: `Added ${r('one.bin')} -> ${l('one.bin')} to job.` },
      { args: ['/addfile', id, r('two.bin'), l('two.bin')], json: { id, added: [{ remoteName: r('two.bin'), localName: l('two.bin') }] } },
      { args: ['/addfileset', id, join(dir, 'set2.txt')], json: { id, added: [{ remoteName: r('five.bin'), localName: l('five.bin') }] } },
      { args: ['/addfilewithranges', id, r('six.bin'), l('six.bin'), '0:100,2000:eof'], text: `Added ${r('six.bin')} -> ${l('six.bin')} to job.` },
      {
        args: ['/addfilewithranges', id, r('seven.bin'), l('seven.bin'), '10:20,0x100:eof'],
        json: { id, added: [{ remoteName: r('seven.bin'), localName: l('seven.bin'), ranges: [{ initialOffset: 10, length: 20 }, { initialOffset: 256, length: 'eof' }] }] },
      },
    ]);
    // A relative LISTFILE is read by the bitsadmin process, from its own working directory.
    expect(await ok(['/addfileset', id, 'set.txt'], { cwd: dir })).toBe('Added 2 file(s) to job.\n');

    const names = ['one', 'two', 'five', 'six', 'seven', 'three', 'four'];
    const local = (n: string): string => l(n === 'four' ? 'four with spaces.bin' : `${n}.bin`);
    const listed = (await json(['/listfiles', id])) as { files: Array<{ index: number; remoteName: string; localName: string; bytesTotal: number | null }> };
    expect(listed.files.map((f) => [f.index, f.remoteName, f.localName])).toEqual(names.map((n, i) => [i, r(`${n}.bin`), local(n)]));
    expect(listed.files[0]).toEqual({ index: 0, remoteName: r('one.bin'), localName: l('one.bin'), bytesTotal: null, bytesTransferred: 0, completed: false });
    const lines = listed.files.map((f) => `0 / ${f.bytesTotal ?? 'UNKNOWN'} WORKING ${f.remoteName} -> ${f.localName}`);
    const temp = await ok(['/gettemporaryname', id, '3']);
    expect(temp).toMatch(new RegExp(`^${out}/BIT[0-9A-F]{8}\\.tmp\n$`));
    await all([
      chains(
        [{ args: ['/listfiles', id], text: [...lines, '', 'Listed 7 file(s).'].join('\n') }],
        [{ args: ['/getfilestotal', id], text: '7', json: { filesTotal: 7 } }],
        [{ args: ['/getfilestransferred', id], text: '0', json: { filesTransferred: 0 } }],
        [{ args: ['/getbytestotal', id], text: 'UNKNOWN', json: { bytesTotal: null } }],
        [{ args: ['/getbytestransferred', id], text: '0', json: { bytesTransferred: 0 } }],
        [{ args: ['/gettemporaryname', id, '3'], raw: temp.trimEnd(), json: { temporaryName: temp.trimEnd() } }],
      ),
      fails(
        ['/gettemporaryname', id, '7'],
        { ...E_INVALIDARG, message: 'The job has 7 file(s); FILE_INDEX 7 does not exist (indexes start at 0).', usage: '/gettemporaryname JOB FILE_INDEX' },
        true,
      ),
    ]);

    await steps([
      { args: ['/replaceremoteprefix', id, `${url}/a/`, `${url}/b/`], text: 'Remote prefix replaced.' },
      { args: ['/replaceremoteprefix', id, 'http://elsewhere/', 'http://x/'], text: 'No remote name starts with http://elsewhere/; nothing changed (S_FALSE).' },
      { args: ['/replaceremoteprefix', id, `${url}/b/`, `${url}/c/`], json: { id, result: 'S_OK' } },
      { args: ['/replaceremoteprefix', id, `${url}/b/`, `${url}/d/`], json: { id, result: 'S_FALSE' } },
    ]);
    const after = (await json(['/listfiles', id])) as { files: Array<{ remoteName: string }> };
    expect(after.files.map((f) => f.remoteName)).toEqual(names.map((n) => r(`${n}.bin`, 'c')));
  });

  it('job properties: each setter confirms, in text and JSON, and its getter reads the value back', async () => {
    const before = Date.now();
    const id = await create('props');
    const after = Date.now();
    const program = process.execPath;
    // One sequence per property: text setter, text getter, JSON setter (another value), JSON getter.
    await chains(
      [
        { args: ['/setdisplayname', id, 'props renamed'], text: 'Display name set to props renamed.' },
        { args: ['/getdisplayname', id], text: 'props renamed' },
        { args: ['/setdisplayname', id, 'props'], json: { id, displayName: 'props' } },
        { args: ['/getdisplayname', id], json: { displayName: 'props' } },
      ],
      [
        { args: ['/setdescription', id, 'nightly logs'], text: 'Description set to nightly logs.' },
        { args: ['/getdescription', id], text: 'nightly logs' },
        { args: ['/setdescription', id, 'described in JSON'], json: { id, description: 'described in JSON' } },
        { args: ['/getdescription', id], json: { description: 'described in JSON' } },
      ],
      [
        { args: ['/setpriority', id, 'high'], text: 'Priority set to HIGH.' },
        { args: ['/getpriority', id], text: 'HIGH' },
        { args: ['/setpriority', id, 'Low'], json: { id, priority: 'LOW' } },
        { args: ['/getpriority', id], json: { priority: 'LOW' } },
      ],
      [
        { args: ['/setnotifyflags', id, '3'], text: 'Notification flags set to 3.' },
        { args: ['/getnotifyflags', id], text: '3' },
        { args: ['/setnotifyflags', id, '0x9'], json: { id, notifyFlags: 9 } },
        { args: ['/getnotifyflags', id], json: { notifyFlags: 9 } },
      ],
      [
        { args: ['/setnotifycmdline', id, program, '-e 0'], text: `Notification command line set to '${program}' '-e 0'.` },
        { args: ['/getnotifycmdline', id], text: `'${program}' '-e 0'` },
        { args: ['/setnotifycmdline', id, program, 'NULL'], json: { id, notifyCmdLine: { program, parameters: null } } },
        { args: ['/getnotifycmdline', id], json: { notifyCmdLine: { program, parameters: null } } },
        { args: ['/setnotifycmdline', id, 'NULL', 'NULL'], text: 'Notification command line cleared.' },
        { args: ['/getnotifycmdline', id], text: 'none' },
      ],
      [
        // Under the 5-second floor: the value in effect is reported.
        { args: ['/setminretrydelay', id, '2'], text: 'Minimum retry delay set to 5.' },
        { args: ['/getminretrydelay', id], text: '5' },
        { args: ['/setminretrydelay', id, '120'], json: { id, minRetryDelay: 120 } },
        { args: ['/getminretrydelay', id], json: { minRetryDelay: 120 } },
      ],
      [
        { args: ['/setnoprogresstimeout', id, '300'], text: 'No progress timeout set to 300.' },
        { args: ['/getnoprogresstimeout', id], text: '300' },
        { args: ['/setnoprogresstimeout', id, '0x258'], json: { id, noProgressTimeout: 600 } },
        { args: ['/getnoprogresstimeout', id], json: { noProgressTimeout: 600 } },
      ],
      [
        { args: ['/setmaxdownloadtime', id, '0'], text: 'Maximum download time set to 0.' },
        { args: ['/getmaxdownloadtime', id], text: '0' },
        { args: ['/setmaxdownloadtime', id, '3600'], json: { id, maxDownloadTime: 3600 } },
        { args: ['/getmaxdownloadtime', id], json: { maxDownloadTime: 3600 } },
      ],
      [{ args: ['/getowner', id], text: owner, json: { owner } }],
      [{ args: ['/geterrorcount', id], text: '0', json: { errorCount: 0 } }],
      [{ args: ['/getcompletiontime', id], text: 'UNKNOWN', json: { transferCompletionTime: null } }],
    );
    await fails(
      ['/setnotifycmdline', id, 'NULL', '-e 0'],
      { ...E_INVALIDARG, message: 'PARAMETERS need a PROGRAM; give NULL NULL to clear the command line.', usage: '/setnotifycmdline JOB PROGRAM|NULL [PARAMETERS|NULL]' },
      true,
    );

    const [created, modified] = (await all([json(['/getcreationtime', id]), json(['/getmodificationtime', id])])) as [
      { creationTime: string },
      { modificationTime: string },
    ];
    const { creationTime } = created;
    const { modificationTime } = modified;
    expect(creationTime).toMatch(ISO);
    expect(Date.parse(creationTime)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(creationTime)).toBeLessThanOrEqual(after + 1000);
    expect(Date.parse(modificationTime)).toBeGreaterThanOrEqual(Date.parse(creationTime));
    const [createdText, modifiedText, verbose] = await all([ok(['/getcreationtime', id]), ok(['/getmodificationtime', id]), ok(['/info', id, '/verbose'])]);
    expect(createdText).toBe(`${formatTime(creationTime)}\n`);
    expect(modifiedText).toBe(`${formatTime(modificationTime)}\n`);
    // /info /verbose shows what the setters wrote.
    expect(verbose.split('\n')).toEqual([
      `GUID: ${id} DISPLAY: 'props'`,
      `TYPE: DOWNLOAD STATE: SUSPENDED OWNER: ${owner}`,
      'PRIORITY: LOW FILES: 0 / 0 BYTES: 0 / 0',
      `CREATION TIME: ${formatTime(creationTime)} MODIFICATION TIME: ${formatTime(modificationTime)}`,
      'COMPLETION TIME: UNKNOWN',
      'NOTIFY INTERFACE: UNREGISTERED NOTIFICATION FLAGS: 9',
      'RETRY DELAY: 120 NO PROGRESS TIMEOUT: 600 ERROR COUNT: 0',
      'PROXY USAGE: PRECONFIG PROXY LIST: NULL PROXY BYPASS LIST: NULL',
      'DESCRIPTION: described in JSON',
      'JOB FILES:',
      'NOTIFICATION COMMAND LINE: none',
      'CUSTOM HEADERS: NULL',
      'MAX DOWNLOAD TIME: 3600 SECURITY FLAGS: 0x0 HTTP METHOD: GET',
      'CLIENT CERTIFICATE: NULL',
      'WAITING: suspended; /resume to go on',
      '',
    ]);
  });

  it('HTTP options: proxy, credentials, custom headers, security flags, HTTP method, client certificate', async () => {
    const id = await create('http');
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client.key');
    await writeFile(cert, '-----BEGIN CERTIFICATE-----\n');
    await writeFile(key, '-----BEGIN PRIVATE KEY-----\n');
    await chains(
      [
        { args: ['/setproxysettings', id, 'override', 'proxy.example:8080', '<local>'], text: 'Proxy usage set to OVERRIDE.' },
        { args: ['/getproxyusage', id], text: 'OVERRIDE' },
        { args: ['/getproxylist', id], text: 'proxy.example:8080' },
        { args: ['/getproxybypasslist', id], text: '<local>' },
        {
          args: ['/setproxysettings', id, 'OVERRIDE', 'p2.example:3128 p3.example:3128', 'NULL'],
          json: { id, proxy: { usage: 'OVERRIDE', proxyList: 'p2.example:3128 p3.example:3128', bypassList: null } },
        },
        { args: ['/getproxyusage', id], json: { proxyUsage: 'OVERRIDE' } },
        { args: ['/getproxylist', id], json: { proxyList: 'p2.example:3128 p3.example:3128' } },
        { args: ['/getproxybypasslist', id], json: { proxyBypassList: null } },
      ],
      [
        // Write-only: nothing reads credentials back; the JSON never carries the password.
        { args: ['/setcredentials', id, 'server', 'basic', 'alice', 's3cret'], text: 'Credentials set for SERVER BASIC.' },
        { args: ['/setcredentials', id, 'PROXY', 'NTLM', 'NULL', 'NULL'], json: { id, target: 'PROXY', scheme: 'NTLM', userName: null } },
        { args: ['/removecredentials', id, 'server', 'basic'], text: 'Credentials removed for SERVER BASIC.' },
        { args: ['/removecredentials', id, 'PROXY', 'ntlm'], json: { id, target: 'PROXY', scheme: 'NTLM' } },
      ],
      [
        { args: ['/setcustomheaders', id, 'X-One: 1', 'X-Two: two words'], text: 'Custom headers set (2).' },
        { args: ['/getcustomheaders', id], text: 'X-One: 1\nX-Two: two words' },
        { args: ['/setcustomheaders', id, 'X-Three: 3'], json: { id, customHeaders: ['X-Three: [REDACTED]'] } },
        { args: ['/getcustomheaders', id], json: { customHeaders: ['X-Three: 3'] } },
        { args: ['/setcustomheaders', id, 'null'], text: 'Custom headers removed.' },
        { args: ['/getcustomheaders', id], text: 'NULL' },
        { args: ['/setcustomheaders', id, 'X-Secret: 1'], json: { id, customHeaders: ['X-Secret: [REDACTED]'] } },
        { args: ['/makecustomheaderswriteonly', id], text: 'Custom headers are now write-only.' },
        { args: ['/makecustomheaderswriteonly', id], json: { id, customHeadersWriteOnly: true } },
      ],
      [
        { args: ['/setsecurityflags', id, '0x103'], text: 'Security flags set to 0x103.' },
        { args: ['/getsecurityflags', id], text: '0x103' },
        { args: ['/setsecurityflags', id, '2048'], json: { id, securityFlags: 2048 } },
        { args: ['/getsecurityflags', id], json: { securityFlags: 2048 } },
      ],
      [
        // Before the first /resume only; it makes the job FOREGROUND.
        { args: ['/sethttpmethod', id, 'POST'], text: 'HTTP method set to POST.' },
        { args: ['/gethttpmethod', id], text: 'POST' },
        { args: ['/sethttpmethod', id, 'PUT'], json: { id, httpMethod: 'PUT' } },
        { args: ['/gethttpmethod', id], json: { httpMethod: 'PUT' } },
      ],
      [
        { args: ['/setclientcertificatebyname', id, cert, key], text: `Client certificate set to ${cert} KEY: ${key}.` },
        { args: ['/getclientcertificate', id], text: `${cert} KEY: ${key}` },
        { args: ['/removeclientcertificate', id], text: 'Client certificate removed.' },
        { args: ['/getclientcertificate', id], json: { clientCertificate: null } },
        { args: ['/setclientcertificatebyname', id, cert], json: { id, clientCertificate: { certFile: cert, keyFile: null } } },
        { args: ['/getclientcertificate', id], json: { clientCertificate: { certFile: cert, keyFile: null } } },
        { args: ['/removeclientcertificate', id], json: { id, clientCertificate: null } },
        { args: ['/getclientcertificate', id], text: 'NULL' },
      ],
    );
    const [, info, verbose] = await all([
      fails(
        ['/getcustomheaders', id],
        { exit: 1, code: 'E_ACCESSDENIED', hresult: 0x80070005, description: 'Access is denied.', message: 'The custom headers of this job were made write-only.' },
        true,
      ),
      json(['/info', id]),
      ok(['/info', id, '/verbose']),
    ]);
    expect(info).toMatchObject({
      priority: 'FOREGROUND',
      proxy: { usage: 'OVERRIDE', proxyList: 'p2.example:3128 p3.example:3128', bypassList: null },
      customHeaders: null,
      customHeadersWriteOnly: true,
      securityFlags: 2048,
      httpMethod: 'PUT',
      clientCertificate: null,
    });
    expect(verbose).toContain('\nPRIORITY: FOREGROUND FILES: 0 / 0 BYTES: 0 / 0\n');
    expect(verbose).toContain('\nCUSTOM HEADERS: (write-only)\nMAX DOWNLOAD TIME: 7776000 SECURITY FLAGS: 0x800 HTTP METHOD: PUT\nCLIENT CERTIFICATE: NULL\n');
    expect(verbose).toContain('\nPROXY USAGE: OVERRIDE PROXY LIST: p2.example:3128 p3.example:3128 PROXY BYPASS LIST: NULL\n');
    // The password never comes back, in any output.
    expect(`${JSON.stringify(info)}${verbose}`).not.toContain('s3cret');
  });

  it('a download over HTTP to the end: counters, /listfiles, /getcompletiontime, /complete; a 404: /geterror in ERROR', async () => {
    const id = await create('download');
    const remote = `${url}/files/data.bin`;
    const local = join(out, 'data.bin');
    await ok(['/addfile', id, remote, local]);
    await ok(['/resume', id]);
    await waitForState(id, 'TRANSFERRED');
    const size = served.length;
    const { transferCompletionTime } = (await json(['/getcompletiontime', id])) as { transferCompletionTime: string };
    expect(transferCompletionTime).toMatch(ISO);
    await chains(
      [{ args: ['/getbytestotal', id], text: String(size), json: { bytesTotal: size } }],
      [{ args: ['/getbytestransferred', id], text: String(size), json: { bytesTransferred: size } }],
      [{ args: ['/getfilestransferred', id], text: '1', json: { filesTransferred: 1 } }],
      [{ args: ['/getcompletiontime', id], text: formatTime(transferCompletionTime) }],
      // COMPLETED only once the file is the user's, after /complete.
      [{ args: ['/listfiles', id], text: `${size} / ${size} WORKING ${remote} -> ${local}\n\nListed 1 file(s).` }],
    );
    expect(await ok(['/complete', id])).toBe('Job completed.\n');
    queue.delete(id);
    expect((await readFile(local)).equals(served)).toBe(true);
    await fails(['/getstate', id], { ...BG_E_NOT_FOUND, message: `No job ${id} in the queue.` }, true);

    const broken = await create('broken');
    const missing = `${url}/files/missing.bin`;
    await ok(['/addfile', broken, missing, join(out, 'missing.bin')]);
    await fails(
      ['/geterror', broken],
      {
        exit: 1,
        code: 'BG_E_ERROR_INFORMATION_UNAVAILABLE',
        hresult: 0x8020000f,
        description: 'No errors have occurred.',
        message: 'The job is SUSPENDED: error information exists only in ERROR or TRANSIENT_ERROR.',
      },
      true,
    );
    await ok(['/resume', broken]);
    await waitForState(broken, 'ERROR');
    const { error } = (await json(['/geterror', broken])) as { error: Record<string, unknown> };
    expect(error).toEqual({
      hresult: 0x80190194,
      code: 'BG_E_HTTP_ERROR_404',
      context: 'REMOTE_FILE',
      description: 'The requested URL does not exist on the server.',
      contextDescription: 'The error occurred while the remote file was being processed.',
      message: expect.any(String),
      protocol: 'http',
      file: { remoteName: missing, localName: join(out, 'missing.bin') },
    });
    const errorText = [
      `ERROR FILE:    ${missing} -> ${join(out, 'missing.bin')}`,
      'ERROR CODE:    0x80190194 - The requested URL does not exist on the server.',
      'ERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed.',
      ...(error.message === error.description ? [] : [`ERROR DETAIL:  ${String(error.message)}`]),
    ].join('\n');
    const [verbose] = await all([
      ok(['/info', broken, '/verbose']),
      chains([{ args: ['/geterror', broken], text: errorText }], [{ args: ['/geterrorcount', broken], text: '1', json: { errorCount: 1 } }]),
    ]);
    expect(verbose).toContain(`\nRETRY DELAY: 600 NO PROGRESS TIMEOUT: 1209600 ERROR COUNT: 1\nPROXY USAGE: PRECONFIG PROXY LIST: NULL PROXY BYPASS LIST: NULL\n${errorText}\nDESCRIPTION: \n`);
    expect(verbose).toContain(`\nTYPE: DOWNLOAD STATE: ERROR OWNER: ${owner}\n`);
    expect(await ok(['/cancel', broken])).toBe('Job canceled.\n');
    queue.delete(broken);
  });

  it('upload-reply to bits-server: the reply verbs before and after, /complete --json, the reply file', async () => {
    const id = await create('reply', '/upload-reply');
    const first = join(out, 'reply-first.txt');
    const replyFile = join(out, 'reply.txt');
    await steps([
      { args: ['/getreplyfilename', id], text: 'NULL', json: { replyFileName: null } },
      { args: ['/setreplyfilename', id, first], text: `Reply file name set to ${first}.` },
      { args: ['/getreplyfilename', id], text: first },
      { args: ['/setreplyfilename', id, replyFile], json: { id, replyFileName: replyFile } },
      { args: ['/getreplyfilename', id], json: { replyFileName: replyFile } },
    ]);
    await steps([{ args: ['/getreplyprogress', id], text: '0 / UNKNOWN', json: { replyProgress: { bytesTotal: null, bytesTransferred: 0 } } }]);
    await fails(
      ['/getreplydata', id],
      {
        exit: 1,
        code: 'BG_E_INVALID_STATE',
        hresult: 0x80200002,
        description:
          'The requested action is not allowed in the current job state. The job might have been canceled or completed transferring. It is in a read-only state now.',
        message: 'The reply is available once the job is TRANSFERRED; it is SUSPENDED.',
      },
      true,
    );

    const data = randomBytes(70 * 1024 + 9);
    const source = join(dir, 'report.bin');
    await writeFile(source, data);
    await ok(['/addfile', id, `${url}/up/report.bin`, source]);
    await ok(['/resume', id]);
    await waitForState(id, 'TRANSFERRED');
    expect((await readFile(join(srvRoot, 'up', 'report.bin'))).equals(data)).toBe(true);
    const reply = Buffer.from(`stored ${data.length} bytes sha256=${sha256(data)}`);
    const [info] = await all([
      ok(['/info', id, '/verbose']),
      chains(
        [{ args: ['/getreplyprogress', id], text: `${reply.length} / ${reply.length}`, json: { replyProgress: { bytesTotal: reply.length, bytesTransferred: reply.length } } }],
        [{ args: ['/getreplydata', id], text: [`${reply.length} byte(s) of reply data:`, ...hexRows(reply)].join('\n') }],
        [{ args: ['/getreplydata', id], raw: reply.toString('hex'), json: { replyData: reply.toString('base64'), length: reply.length } }],
      ),
    ]);
    expect(info.endsWith(`\nREPLY FILE: ${replyFile} REPLY PROGRESS: ${reply.length} / ${reply.length}\nWAITING: transferred; /complete to deliver the files\n`)).toBe(true);
    expect(await json(['/complete', id])).toEqual({ id, state: 'ACKNOWLEDGED', result: 'S_OK' });
    queue.delete(id);
    expect(await readFile(replyFile)).toEqual(reply);
    expect(existsSync(first)).toBe(false);
  });

  it('/transfer through the binary: an upload in text, a download with --json', async () => {
    const data = randomBytes(150 * 1024 + 1);
    const source = join(dir, 'nightly.bin');
    await writeFile(source, data);
    const up = await bitsadmin(['/transfer', 'nightly', '/upload', '/priority', 'high', `${url}/up/nightly.bin`, source]);
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = up.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DISPLAY: 'nightly' TYPE: UPLOAD PRIORITY: HIGH JOB: \{[0-9A-F-]{36}\}$/);
    expect(lines.at(-2)).toBe(`STATE: TRANSFERRED FILES: 1 / 1 BYTES: ${data.length} / ${data.length} (100%)`);
    expect(lines.at(-1)).toBe('Transfer complete.');
    expect((await readFile(join(srvRoot, 'up', 'nightly.bin'))).equals(data)).toBe(true);

    const local = join(out, 'fetched.bin');
    const doc = await json(['/transfer', 'fetch', '/download', '/dynamic', `${url}/files/data.bin`, local]);
    expect(doc).toMatchObject({
      id: expect.stringMatching(GUID),
      displayName: 'fetch',
      type: 'DOWNLOAD',
      state: 'ACKNOWLEDGED',
      result: 'S_OK',
      owner,
      progress: { bytesTotal: served.length, bytesTransferred: served.length, filesTotal: 1, filesTransferred: 1 },
      error: null,
      files: [{ remoteName: `${url}/files/data.bin`, localName: local, bytesTotal: served.length, bytesTransferred: served.length, completed: true }],
    });
    expect((await readFile(local)).equals(served)).toBe(true);
  });

  it('/reset cancels what is left; /list, /info and /monitor on a known queue; /reset /allusers --json', async () => {
    // Text /reset: one line per job (queue order), then the count.
    const reset = (await ok(['/reset'])).trimEnd().split('\n');
    expect(reset.at(-1)).toBe(`${queue.size} out of ${queue.size} jobs canceled.`);
    expect(reset.slice(0, -1).sort()).toEqual([...queue.keys()].map((id) => `${id} canceled.`).sort());
    queue.clear();

    expect(await ok(['/list'])).toBe('Listed 0 job(s).\n');
    const [one, two] = await all([create('list one'), create('list two', '/upload-reply')]);
    const remote = `${url}/never/contacted.bin`;
    const local = join(out, 'never.bin');
    await ok(['/addfile', one, remote, local]);
    const oneLine = `${one} 'list one' SUSPENDED 0 / 1 0 / UNKNOWN`;
    const twoLine = `${two} 'list two' SUSPENDED 0 / 0 0 / 0`;

    type Jobs = { jobs: Array<{ id: string }> };
    const [listed, allUsers, details, detailsVerbose, list, verboseList, verboseJson] = (await all([
      ok(['/list']),
      ok(['/list', '/allusers']),
      json(['/info', one]),
      json(['/info', one, '/verbose']),
      json(['/list']),
      ok(['/list', '/verbose']),
      json(['/list', '/verbose']),
    ])) as [string, string, { times: { creationTime: string; modificationTime: string } }, unknown, Jobs, string, Jobs];

    for (const text of [listed, allUsers]) {
      const lines = text.split('\n');
      expect(lines.slice(2)).toEqual(['', 'Listed 2 job(s).', '']);
      expect(lines.slice(0, 2).sort()).toEqual([oneLine, twoLine].sort());
    }

    const { times } = details;
    const oneJob = {
      id: one,
      displayName: 'list one',
      description: '',
      type: 'DOWNLOAD',
      state: 'SUSPENDED',
      priority: 'NORMAL',
      owner,
      progress: { bytesTotal: null, bytesTransferred: 0, filesTotal: 1, filesTransferred: 0 },
      times: { creationTime: expect.stringMatching(ISO), modificationTime: expect.stringMatching(ISO), transferCompletionTime: null },
      errorCount: 0,
      error: null,
      files: [{ index: 0, remoteName: remote, localName: local, bytesTotal: null, bytesTransferred: 0, completed: false }],
    };
    const oneDetails = {
      ...oneJob,
      notifyFlags: 3,
      notifyCmdLine: { program: null, parameters: null },
      minRetryDelay: 600,
      noProgressTimeout: 1209600,
      maxDownloadTime: 7776000,
      proxy: { usage: 'PRECONFIG', proxyList: null, bypassList: null },
      customHeaders: null,
      customHeadersWriteOnly: false,
      securityFlags: 0,
      httpMethod: 'GET',
      clientCertificate: null,
      transfer: { bytesPerSecond: 0, limit: null, waiting: { reason: 'SUSPENDED', since: null, until: null, by: null, ahead: null, error: null, attempts: null } },
      reply: null,
    };
    expect(details).toEqual(oneDetails);
    expect(detailsVerbose).toEqual(details);

    expect(list.jobs.map((j) => j.id).sort()).toEqual([one, two].sort());
    expect(list.jobs.find((j) => j.id === one)).toEqual(oneJob);
    expect(list.jobs.find((j) => j.id === two)).toMatchObject({ type: 'UPLOAD_REPLY', progress: { bytesTotal: 0, filesTotal: 0 }, files: [] });
    expect(verboseJson.jobs.find((j) => j.id === one)).toEqual(oneDetails);
    expect(verboseJson.jobs.find((j) => j.id === two)).toMatchObject({ reply: { fileName: null, progress: { bytesTotal: null, bytesTransferred: 0 } } });

    const header = [`GUID: ${one} DISPLAY: 'list one'`, `TYPE: DOWNLOAD STATE: SUSPENDED OWNER: ${owner}`, 'PRIORITY: NORMAL FILES: 0 / 1 BYTES: 0 / UNKNOWN'];
    const oneVerbose = [
      ...header,
      `CREATION TIME: ${formatTime(times.creationTime)} MODIFICATION TIME: ${formatTime(times.modificationTime)}`,
      'COMPLETION TIME: UNKNOWN',
      'NOTIFY INTERFACE: UNREGISTERED NOTIFICATION FLAGS: 3',
      'RETRY DELAY: 600 NO PROGRESS TIMEOUT: 1209600 ERROR COUNT: 0',
      'PROXY USAGE: PRECONFIG PROXY LIST: NULL PROXY BYPASS LIST: NULL',
      'DESCRIPTION: ',
      'JOB FILES:',
      `\t0 / UNKNOWN WORKING ${remote} -> ${local}`,
      'NOTIFICATION COMMAND LINE: none',
      'CUSTOM HEADERS: NULL',
      'MAX DOWNLOAD TIME: 7776000 SECURITY FLAGS: 0x0 HTTP METHOD: GET',
      'CLIENT CERTIFICATE: NULL',
      'WAITING: suspended; /resume to go on',
    ].join('\n');
    // /list /verbose: the /info /verbose block of each job, a blank line after each, then the count.
    expect(verboseList.endsWith('\n\nListed 2 job(s).\n')).toBe(true);
    const blocks = verboseList.slice(0, -'\n\nListed 2 job(s).\n'.length).split('\n\n');
    expect(blocks).toHaveLength(2);
    expect(blocks).toContain(oneVerbose);
    expect(blocks.find((b) => b.startsWith(`GUID: ${two} `))).toMatch(/\nREPLY FILE: NULL REPLY PROGRESS: 0 \/ UNKNOWN\nWAITING: suspended; \/resume to go on$/);

    // /monitor until Ctrl-C (exit 0): the first refresh in text (a blank line after it), and as one NDJSON line.
    const untilFirst = (end: string): RunOptions => {
      let sent = false;
      return {
        onStdout: (text, kill) => {
          if (!sent && text.includes(end)) {
            sent = true;
            kill('SIGINT');
          }
        },
      };
    };
    const [monitor, monitorJson] = await all([
      bitsadmin(['/monitor', '/refresh', '1'], untilFirst('\n\n')),
      bitsadmin(['--json', '/monitor', '/refresh', '1'], untilFirst('\n')),
      chains([{ args: ['/info', one], text: [...header, 'WAITING: suspended; /resume to go on'].join('\n') }], [{ args: ['/info', one, '/verbose'], text: oneVerbose }]),
    ]);
    expect({ code: monitor.code, stderr: monitor.stderr }).toEqual({ code: 0, stderr: '' });
    const screen = monitor.stdout.split('\n\n')[0]?.split('\n') ?? [];
    expect(screen[0]).toBe('MONITORING BACKGROUND COPY MANAGER(1 second refresh)');
    expect(screen.slice(1).sort()).toEqual([oneLine, twoLine].sort());
    expect({ code: monitorJson.code, stderr: monitorJson.stderr }).toEqual({ code: 0, stderr: '' });
    const refresh = JSON.parse(monitorJson.stdout.split('\n')[0] ?? '') as { time: string; refresh: number; jobs: Array<{ id: string }> };
    expect(refresh.time).toMatch(ISO);
    expect(refresh.refresh).toBe(1);
    expect(refresh.jobs).toHaveLength(2);
    expect(refresh.jobs.find((j) => j.id === one)).toEqual(oneJob);

    const resetJson = (await json(['/reset', '/allusers'])) as { canceled: string[]; failed: unknown[]; total: number };
    expect({ ...resetJson, canceled: [...resetJson.canceled].sort() }).toEqual({ canceled: [one, two].sort(), failed: [], total: 2 });
    queue.clear();
    expect(await json(['/list'])).toEqual({ jobs: [] });
  });

  // Last: the file's own bookkeeping of the invocations above, so no verb of the issue goes untested.
  it('every verb of the issue succeeded at least once in text and once with --json', () => {
    const missing = [...ISSUE_VERBS, 'help'].filter((verb) => succeeded.get(verb)?.size !== 2).map((verb) => `${verb}: ${[...(succeeded.get(verb) ?? [])].join(',') || 'never'}`);
    expect(missing).toEqual([]);
  });
});
