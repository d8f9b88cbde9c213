/**
 * The command line itself: global flags, verb spellings, help, unknown and unsupported verbs, and
 * how every kind of failure becomes an exit code, a stderr line and a --json error document
 * (including a daemon that is not running, through the real IPC connect).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { daemonConnect } from '../../src/cli/connect.js';
import { runCli } from '../../src/cli/run.js';
import type { CliIo, Connect } from '../../src/cli/types.js';
import { VERBS } from '../../src/cli/verbs/index.js';
import { BitsError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/temp.js';
import { CliHarness } from './helpers.js';

let h: CliHarness;

beforeEach(async () => {
  h = await CliHarness.open();
});

afterEach(async () => {
  await h.close();
});

async function runWith(argv: string[], connect: Connect): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, isTTY: false, env: {} };
  const code = await runCli(argv, io, connect);
  return { code, stdout, stderr };
}

describe('parsing', () => {
  it('global flags come before the verb; /verb, verb and any case name the same verb', () => {
    expect(parseCommandLine(['--socket', '/s', '--json', '/RAWRETURN', '/nowrap', '/Create', 'x'])).toEqual({
      socket: '/s',
      json: true,
      raw: true,
      verb: 'create',
      rest: ['x'],
      help: false,
    });
    expect(parseCommandLine(['--socket=/t', 'LIST'])).toMatchObject({ socket: '/t', verb: 'list', json: false });
    expect(parseCommandLine([])).toMatchObject({ verb: null, help: false });
    expect(parseCommandLine(['/?'])).toMatchObject({ verb: null, help: true });
    expect(() => parseCommandLine(['--socket'])).toThrow('--socket needs a path.');
    expect(() => parseCommandLine(['--verbose', 'list'])).toThrow('Unknown option --verbose');
  });

  it('--socket reaches connect; without it connect gets undefined', async () => {
    await h.ok(['--socket', '/run/x.sock', '/list']);
    await h.ok(['/list']);
    expect(h.sockets).toEqual(['/run/x.sock', undefined]);
  });

  it('every verb of the issue is implemented', () => {
    const required =
      'create addfile addfileset addfilewithranges listfiles resume suspend cancel complete reset list info monitor transfer getstate gettype getbytestotal getbytestransferred getfilestotal getfilestransferred getcreationtime getmodificationtime getcompletiontime geterror geterrorcount getdisplayname setdisplayname getdescription setdescription getpriority setpriority getnotifyflags setnotifyflags getnotifycmdline setnotifycmdline getminretrydelay setminretrydelay getnoprogresstimeout setnoprogresstimeout getmaxdownloadtime setmaxdownloadtime setproxysettings getproxyusage getproxylist getproxybypasslist setcredentials removecredentials getcustomheaders setcustomheaders makecustomheaderswriteonly getsecurityflags setsecurityflags gethttpmethod sethttpmethod setclientcertificatebyname removeclientcertificate gettemporaryname replaceremoteprefix getreplyfilename setreplyfilename getreplyprogress getreplydata getowner';
    const names = new Set(VERBS.map((v) => v.name));
    expect(required.split(' ').filter((v) => !names.has(v))).toEqual([]);
    expect(names.size).toBe(VERBS.length);
  });
});

describe('help', () => {
  it('/help, /?, help and no arguments print every verb and exit 0 without connecting', async () => {
    for (const argv of [['/help'], ['/?'], ['help'], []]) {
      const r = await h.run(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: bitsadmin [--socket PATH] [--json] [/rawreturn] VERB [ARGUMENTS]');
      for (const v of VERBS) expect(r.stdout).toContain(`  /${v.name}`);
    }
    expect(h.sockets).toEqual([]);
  });

  it('VERB /? and /help VERB print that verb; --json lists { verbs }', async () => {
    expect(await h.ok(['/addfile', '/?'])).toBe('Usage: bitsadmin /addfile JOB REMOTE LOCAL\n  Add a file: REMOTE is an http(s):// or file:// URL, LOCAL an absolute path.\n');
    expect(await h.ok(['/help', 'setpriority'])).toContain('Usage: bitsadmin /setpriority JOB FOREGROUND|HIGH|NORMAL|LOW');
    const { doc } = await h.json(['/help']);
    expect((doc.verbs as unknown[]).length).toBe(VERBS.length);
    expect((doc.verbs as unknown[])[0]).toEqual({ name: 'create', usage: '/create [/download|/upload|/upload-reply] NAME', summary: expect.any(String) });
    expect((await h.run(['/help', 'frobnicate'])).code).toBe(2);
  });
});

describe('failures', () => {
  it('an unknown verb: E_INVALIDARG, exit 2, text and JSON', async () => {
    const r = await h.run(['/frobnicate', 'x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('ERROR: 0x80070057 E_INVALIDARG - The parameter is incorrect. (Unknown verb /frobnicate; bitsadmin /help lists the verbs.)\n');
    const j = await h.json(['frobnicate']);
    expect(j.code).toBe(2);
    expect(j.doc).toEqual({
      error: { hresult: 0x80070057, code: 'E_INVALIDARG', context: 'NONE', message: 'Unknown verb /frobnicate; bitsadmin /help lists the verbs.', description: 'The parameter is incorrect.' },
    });
    expect(j.stderr).toContain('Unknown verb /frobnicate'); // people still see it with --json
  });

  it('a bitsadmin verb bitsd leaves out: E_NOTIMPL with the reason, exit 2', async () => {
    const r = await h.run(['/takeownership', 'job']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'ERROR: 0x80004001 E_NOTIMPL - The method is not implemented. (/takeownership is not supported by bitsd: ownership follows the Unix user that created the job.)\n',
    );
  });

  it('a malformed global flag with --json still answers in JSON', async () => {
    const r = await runWith(['--json', '--socket'], async () => h.mgr);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'E_INVALIDARG', message: '--socket needs a path.' } });
  });

  it('a connection lost mid-command is exit 3; an unexpected exception is E_FAIL, exit 1', async () => {
    const lost = await runWith(['/list'], async () => {
      throw new BitsError('BG_E_CONNECTION_CLOSED', 'The connection to bitsd closed.');
    });
    expect(lost.code).toBe(3);
    expect(lost.stderr).toBe('ERROR: 0x8020002e BG_E_CONNECTION_CLOSED - The connection to bitsd closed.\n');
    const bug = await runWith(['/list'], async () => {
      throw new TypeError('boom');
    });
    expect(bug.code).toBe(1);
    expect(bug.stderr).toBe('ERROR: 0x80004005 E_FAIL - Unspecified error. (boom)\n');
  });
});

describe('no daemon (real IPC client)', () => {
  it('a socket path with nothing behind it: one line that says how to start bitsd, exit 3', async () => {
    const dir = await tempDir();
    const socket = join(dir, 'bitsd.sock');
    const r = await runWith(['--socket', socket, '/list'], daemonConnect({}));
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ERROR: 0x8020002d BG_E_CONNECT_FAILURE - bitsd is not running: nothing answers on ${socket} (ENOENT). Start it with: bitsd --socket ${socket}\n`);
    const j = await runWith(['--json', '--socket', socket, '/getstate', 'x'], daemonConnect({}));
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'BG_E_CONNECT_FAILURE', hresult: 0x8020002d } });
  });

  it('the default socket comes from $BITSD_SOCKET, and then the hint is plain `bitsd`', async () => {
    const dir = await tempDir();
    const socket = join(dir, 'env.sock');
    const r = await runWith(['/list'], daemonConnect({ BITSD_SOCKET: socket }));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`ERROR: 0x8020002d BG_E_CONNECT_FAILURE - bitsd is not running: nothing answers on ${socket} (ENOENT). Start it with: bitsd\n`);
  });
});
