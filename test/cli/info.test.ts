/**
 * /list, /info, /geterror and /monitor: bitsadmin's line and block formats, and the JSON job
 * objects.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatSpeed, formatTime } from '../../src/cli/format.js';
import { waitFor } from '../helpers/temp.js';
import { CliHarness, GUID, TIME } from './helpers.js';

let h: CliHarness;

beforeEach(async () => {
  h = await CliHarness.open();
});

afterEach(async () => {
  await h.close();
});

/** A job that failed on a missing file:// source. */
async function failedJob(name: string): Promise<{ id: string; remote: string; local: string }> {
  const id = await h.create(name);
  const remote = pathToFileURL(join(h.dir, 'missing.bin')).href;
  const local = join(h.out, 'missing.bin');
  await h.ok(['/addfile', id, remote, local]);
  await h.ok(['/resume', id]);
  await waitFor(async () => (await h.ok(['/rawreturn', '/getstate', id])) === 'ERROR', 10_000, 'ERROR');
  return { id, remote, local };
}

describe('/list', () => {
  it('one line per job, a blank line, then the count', async () => {
    expect(await h.ok(['/list'])).toBe('Listed 0 job(s).\n');
    const a = await h.create('first job');
    const b = await h.create('second');
    await h.ok(['/addfile', b, await h.source('s', 'abc'), join(h.out, 's')]);
    expect(await h.ok(['/list'])).toBe(`${a} 'first job' SUSPENDED 0 / 0 0 / 0\n${b} 'second' SUSPENDED 0 / 1 0 / UNKNOWN\n\nListed 2 job(s).\n`);
    expect(await h.ok(['list', '/ALLUSERS'])).toContain('Listed 2 job(s).');
  });

  it('--json: { jobs: [job objects] }', async () => {
    const id = await h.create('j');
    const src = await h.source('s', 'abc');
    await h.ok(['/addfile', id, src, join(h.out, 's')]);
    const { doc } = await h.json(['/list']);
    const owner = await (await h.mgr.getJob(id)).getOwner();
    expect(doc).toEqual({
      jobs: [
        {
          id,
          displayName: 'j',
          description: '',
          type: 'DOWNLOAD',
          state: 'SUSPENDED',
          priority: 'NORMAL',
          owner,
          progress: { bytesTotal: null, bytesTransferred: 0, filesTotal: 1, filesTransferred: 0 },
          times: { creationTime: expect.stringMatching(/Z$/), modificationTime: expect.stringMatching(/Z$/), transferCompletionTime: null },
          errorCount: 0,
          error: null,
          files: [{ index: 0, remoteName: src, localName: join(h.out, 's'), bytesTotal: null, bytesTransferred: 0, completed: false }],
        },
      ],
    });
  });

  it('/verbose prints the /info /verbose block of each job', async () => {
    const a = await h.create('a');
    const b = await h.create('b');
    const text = await h.ok(['/list', '/verbose']);
    expect(text).toContain(`GUID: ${a} DISPLAY: 'a'`);
    expect(text).toContain(`GUID: ${b} DISPLAY: 'b'`);
    expect(text).toMatch(/NOTIFICATION COMMAND LINE: none\n.*\n.*\n.*\nWAITING: suspended; \/resume to go on\n\nGUID: /);
    expect(text.endsWith('\nListed 2 job(s).\n')).toBe(true);
    const { doc } = await h.json(['/list', '/verbose']);
    expect((doc.jobs as Array<Record<string, unknown>>)[1]).toMatchObject({ id: b, notifyFlags: 3, minRetryDelay: 600, proxy: { usage: 'PRECONFIG' } });
  });
});

describe('/info', () => {
  it('three lines by default', async () => {
    const id = await h.create('info job');
    const owner = await (await h.mgr.getJob(id)).getOwner();
    expect(await h.ok(['/info', id])).toBe(
      `GUID: ${id} DISPLAY: 'info job'\nTYPE: DOWNLOAD STATE: SUSPENDED OWNER: ${owner}\nPRIORITY: NORMAL FILES: 0 / 0 BYTES: 0 / 0\nWAITING: suspended; /resume to go on\n`,
    );
    const reply = await h.create('r', '/upload-reply');
    expect(await h.ok(['/info', reply])).toContain('TYPE: UPLOAD-REPLY STATE: SUSPENDED');
  });

  it('/verbose: every line of bitsadmin\'s block, then bitsd\'s extra settings', async () => {
    const id = await h.create('v');
    const src = await h.source('f', 'data');
    await h.ok(['/addfile', id, src, join(h.out, 'f')]);
    await h.ok(['/setdescription', id, 'about v']);
    await h.ok(['/setcustomheaders', id, 'X-A: 1', 'X-B: 2']);
    await h.ok(['/setnotifycmdline', id, '/bin/true', 'true x']);
    const owner = await (await h.mgr.getJob(id)).getOwner();
    const times = await (await h.mgr.getJob(id)).getTimes();
    const lines = (await h.ok(['/info', id, '/verbose'])).split('\n');
    expect(lines).toEqual([
      `GUID: ${id} DISPLAY: 'v'`,
      `TYPE: DOWNLOAD STATE: SUSPENDED OWNER: ${owner}`,
      'PRIORITY: NORMAL FILES: 0 / 1 BYTES: 0 / UNKNOWN',
      `CREATION TIME: ${formatTime(times.creationTime.toISOString())} MODIFICATION TIME: ${formatTime(times.modificationTime.toISOString())}`,
      'COMPLETION TIME: UNKNOWN',
      'NOTIFY INTERFACE: UNREGISTERED NOTIFICATION FLAGS: 3',
      'RETRY DELAY: 600 NO PROGRESS TIMEOUT: 1209600 ERROR COUNT: 0',
      'PROXY USAGE: PRECONFIG PROXY LIST: NULL PROXY BYPASS LIST: NULL',
      'DESCRIPTION: about v',
      'JOB FILES:',
      `\t0 / UNKNOWN WORKING ${src} -> ${join(h.out, 'f')}`,
      "NOTIFICATION COMMAND LINE: '/bin/true' 'true x'",
      'CUSTOM HEADERS: X-A: 1 | X-B: 2',
      'MAX DOWNLOAD TIME: 7776000 SECURITY FLAGS: 0x0 HTTP METHOD: GET',
      'CLIENT CERTIFICATE: NULL',
      'WAITING: suspended; /resume to go on',
      '',
    ]);
    expect(lines[3]).toMatch(/^CREATION TIME: .* [AP]M MODIFICATION TIME: .* [AP]M$/);
  });

  it('--json: the full job object, with or without /verbose', async () => {
    const id = await h.create('j', '/upload-reply');
    const { doc } = await h.json(['/info', id]);
    expect(doc).toMatchObject({
      id,
      displayName: 'j',
      type: 'UPLOAD_REPLY',
      state: 'SUSPENDED',
      priority: 'NORMAL',
      progress: { bytesTotal: 0, bytesTransferred: 0, filesTotal: 0, filesTransferred: 0 },
      errorCount: 0,
      error: null,
      files: [],
      notifyFlags: 3,
      notifyCmdLine: { program: null, parameters: null },
      minRetryDelay: 600,
      noProgressTimeout: 1_209_600,
      maxDownloadTime: 7_776_000,
      proxy: { usage: 'PRECONFIG', proxyList: null, bypassList: null },
      customHeaders: null,
      customHeadersWriteOnly: false,
      securityFlags: 0,
      httpMethod: 'GET',
      clientCertificate: null,
      reply: { fileName: null, progress: { bytesTotal: null, bytesTransferred: 0 } },
    });
    expect((doc.times as { creationTime: string }).creationTime).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect((await h.json(['/info', id, '/verbose'])).doc).toEqual(doc);
  });

  it('a job in ERROR shows the error lines; --json carries the error object', async () => {
    const { id, remote, local } = await failedJob('broken');
    const text = await h.ok(['/info', id, '/verbose']);
    expect(text).toContain(`ERROR FILE:    ${remote} -> ${local}\n`);
    expect(text).toContain('ERROR CODE:    0x80070002 - The system cannot find the file specified.\n');
    expect(text).toContain('ERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed.\n');
    expect(text).toContain('RETRY DELAY: 600 NO PROGRESS TIMEOUT: 1209600 ERROR COUNT: 1');
    const { doc } = await h.json(['/info', id]);
    expect(doc.error).toMatchObject({
      hresult: 0x80070002,
      code: 'ERROR_FILE_NOT_FOUND',
      context: 'REMOTE_FILE',
      description: 'The system cannot find the file specified.',
      protocol: 'file',
      file: { remoteName: remote, localName: local },
    });
  });

  it('write-only custom headers show as such', async () => {
    const id = await h.create('w');
    await h.ok(['/setcustomheaders', id, 'X-Secret: 1']);
    await h.ok(['/makecustomheaderswriteonly', id]);
    expect(await h.ok(['/info', id, '/verbose'])).toContain('CUSTOM HEADERS: (write-only)\n');
    expect((await h.json(['/info', id])).doc).toMatchObject({ customHeaders: null, customHeadersWriteOnly: true });
  });
});

describe('/geterror', () => {
  it('prints file, code, context and detail; --json { error }; no error -> BG_E_ERROR_INFORMATION_UNAVAILABLE', async () => {
    const { id, remote, local } = await failedJob('e');
    const text = await h.ok(['/geterror', id]);
    expect(text).toMatch(
      new RegExp(
        `^ERROR FILE:    ${remote.replace(/[.]/g, '\\.')} -> ${local}\\nERROR CODE:    0x80070002 - The system cannot find the file specified\\.\\nERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed\\.\\nERROR DETAIL:  .+\\n$`,
      ),
    );
    expect((await h.json(['/geterror', id])).doc).toMatchObject({ error: { code: 'ERROR_FILE_NOT_FOUND', context: 'REMOTE_FILE', file: { localName: local } } });
    const fine = await h.create('fine');
    const r = await h.run(['/geterror', fine]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERROR: 0x8020000f BG_E_ERROR_INFORMATION_UNAVAILABLE - /);
  });
});

describe('/monitor', () => {
  it('non-TTY: prints the header and job lines each refresh, stops on the signal (exit 0)', async () => {
    const id = await h.create('watched');
    const stop = new AbortController();
    const r = await h.run(['/monitor', '/refresh', '1'], { signal: stop.signal, onStdout: () => stop.abort() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`MONITORING BACKGROUND COPY MANAGER(1 second refresh)\n${id} 'watched' SUSPENDED 0 / 0 0 / 0\n\n`);
  });

  it('redraws on a terminal: clear screen, then the table; default refresh 5 s', async () => {
    await h.create('x');
    const stop = new AbortController();
    const r = await h.run(['/monitor'], { isTTY: true, signal: stop.signal, onStdout: () => stop.abort() });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('\u001b[2J\u001b[HMONITORING BACKGROUND COPY MANAGER(5 second refresh)\n')).toBe(true);
  });

  it('--json: one compact document a line per redraw (a change to a job brings the next)', async () => {
    const id = await h.create('m');
    const stop = new AbortController();
    let redraws = 0;
    const r = await h.run(['--json', '/monitor', '/refresh', '1'], {
      signal: stop.signal,
      onStdout: () => {
        if (++redraws === 1) void h.ok(['/setdescription', id, 'changed']);
        else stop.abort();
      },
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const docs = lines.map((line) => JSON.parse(line) as { time: string; refresh: number; jobs: Array<{ id: string; description: string }> });
    for (const doc of docs) {
      expect(doc.refresh).toBe(1);
      expect(doc.time).toMatch(/Z$/);
      expect(doc.jobs.map((j) => j.id)).toEqual([id]);
    }
    expect(docs.map((d) => d.jobs[0]?.description)).toEqual(['', 'changed']);
  });

  it('rejects a zero or non-numeric refresh', async () => {
    for (const bad of ['0', 'soon']) {
      const r = await h.run(['/monitor', '/refresh', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('Usage: bitsadmin /monitor [/allusers] [/refresh SECONDS]');
    }
    const missing = await h.run(['/monitor', '/refresh']);
    expect(missing.stderr).toContain('/refresh needs a value.');
  });
});

it('job lines and GUIDs have bitsadmin\'s shape', async () => {
  const id = await h.create('shape');
  expect(id).toMatch(GUID);
  expect(await h.ok(['/rawreturn', '/getcreationtime', id])).toMatch(TIME);
});

it('a measured rate reads in three significant digits, fixed notation, binary units', () => {
  expect(formatSpeed(0)).toBe('0 B/s');
  expect(formatSpeed(812.4)).toBe('812 B/s');
  expect(formatSpeed(99_942)).toBe('97.6 KiB/s');
  expect(formatSpeed(1_044_480)).toBe('1020 KiB/s');
  expect(formatSpeed(1_069_547)).toBe('1.02 MiB/s');
  expect(formatSpeed(3 * 2 ** 30)).toBe('3.00 GiB/s');
});
