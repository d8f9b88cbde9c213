/**
 * /transfer end to end with file:// sources: plain progress lines off a terminal, the bar on one,
 * the final JSON job object, a job that fails (printed, cancelled, exit 1), Ctrl-C (cancelled,
 * exit 130) and set-up failures that leave no job behind; then /upload and /upload-reply against
 * the reference BITS server on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProgressReporter, progressBar, progressLine } from '../../src/cli/progress.js';
import { type BitsServer, startBitsServer } from '../../src/server/index.js';
import { CliHarness, GUID } from './helpers.js';

let h: CliHarness;

beforeEach(async () => {
  h = await CliHarness.open();
});

afterEach(async () => {
  await h.close();
});

describe('/transfer', () => {
  it('downloads, completes and exits 0; plain lines when not a terminal', async () => {
    const a = await h.source('a.txt', 'alpha');
    const b = await h.source('b.txt', 'bravo!');
    const r = await h.run(['/transfer', 'pair', a, join(h.out, 'a.txt'), b, join(h.out, 'b.txt')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DISPLAY: 'pair' TYPE: DOWNLOAD PRIORITY: NORMAL JOB: \{[0-9A-F-]{36}\}$/);
    expect(lines.at(-2)).toBe('STATE: TRANSFERRED FILES: 2 / 2 BYTES: 11 / 11 (100%)');
    expect(lines.at(-1)).toBe('Transfer complete.');
    expect(r.stdout).not.toContain('\r');
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^STATE: [A-Z_]+ FILES: \d+ \/ 2 BYTES: \d+ \/ (\d+|UNKNOWN)( \(\d+%\))?$/);
    expect(await readFile(join(h.out, 'a.txt'), 'utf8')).toBe('alpha');
    expect(await readFile(join(h.out, 'b.txt'), 'utf8')).toBe('bravo!');
    expect(await h.mgr.enumJobs()).toHaveLength(0); // completed jobs leave the queue
  });

  it('draws a progress bar with \\r on a terminal; /priority and the type switch are applied', async () => {
    const a = await h.source('a', 'x'.repeat(1000));
    const r = await h.run(['/TRANSFER', 'bar', '/download', '/priority', 'foreground', a, join(h.out, 'a')], { isTTY: true, columns: 100 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DISPLAY: 'bar' TYPE: DOWNLOAD PRIORITY: FOREGROUND JOB: /);
    expect(r.stdout).toContain('\r[########################################] 100% 1000 / 1000 bytes TRANSFERRED\u001b[K\n');
    expect(r.stdout.endsWith('\nTransfer complete.\n')).toBe(true);
  });

  it('--json prints only the final job object, ACKNOWLEDGED with the Complete result', async () => {
    const a = await h.source('a', 'json!');
    const r = await h.run(['--json', '/transfer', 'j', '/dynamic', a, join(h.out, 'a')]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      id: expect.stringMatching(GUID),
      displayName: 'j',
      type: 'DOWNLOAD',
      state: 'ACKNOWLEDGED',
      result: 'S_OK',
      progress: { bytesTotal: 5, bytesTransferred: 5, filesTotal: 1, filesTransferred: 1 },
      error: null,
      files: [{ remoteName: a, localName: join(h.out, 'a'), bytesTotal: 5, bytesTransferred: 5, completed: true }],
    });
    expect((doc.times as { transferCompletionTime: string | null }).transferCompletionTime).toMatch(/Z$/);
  });

  it('a job that ends in ERROR: the error on stderr, the job cancelled, exit 1', async () => {
    const missing = pathToFileURL(join(h.dir, 'missing')).href;
    const r = await h.run(['/transfer', 'broken', missing, join(h.out, 'missing')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('STATE: ERROR FILES: 0 / 1');
    const err = r.stderr.split('\n');
    expect(err[0]).toMatch(/^ERROR: 0x80070002 ERROR_FILE_NOT_FOUND - The system cannot find the file specified\. \(.+\)$/);
    expect(err[1]).toBe(`ERROR FILE:    ${missing} -> ${join(h.out, 'missing')}`);
    expect(err[2]).toBe('ERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed.');
    expect(err[3]).toMatch(/^Job \{[0-9A-F-]{36}\} canceled\.$/);
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });

  it('--json on ERROR: { error, job } and exit 1', async () => {
    const missing = pathToFileURL(join(h.dir, 'missing')).href;
    const r = await h.run(['--json', '/transfer', 'broken', missing, join(h.out, 'missing')]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: { hresult: 0x80070002, code: 'ERROR_FILE_NOT_FOUND', context: 'REMOTE_FILE', file: { remoteName: missing } },
      job: { displayName: 'broken', state: 'ERROR', errorCount: 1 },
    });
  });

  it('Ctrl-C cancels the job and exits 130', async () => {
    const stop = new AbortController();
    // Nothing listens on port 9 (discard): the job waits in TRANSIENT_ERROR until interrupted.
    const r = await h.run(['/transfer', 'stuck', 'http://127.0.0.1:9/file', join(h.out, 'file')], {
      signal: stop.signal,
      onStdout: (chunk) => {
        if (chunk.includes('Waiting: retry at')) stop.abort();
      },
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/Waiting: retry at \d+\/\d+\/\d{4} .* [AP]M after error 1 \(\w+: .*\)\n/);
    expect(r.stderr).toMatch(/^Transfer interrupted: job \{[0-9A-F-]{36}\} canceled\.\n$/);
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });

  it('Ctrl-C with --json prints an E_ABORT error document', async () => {
    const stop = new AbortController();
    stop.abort();
    const r = await h.run(['--json', '/transfer', 'x', 'http://127.0.0.1:9/f', join(h.out, 'f')], { signal: stop.signal });
    expect(r.code).toBe(130);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'E_ABORT', hresult: 0x80004004 } });
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });

  it('a file the job cannot take is reported and leaves no job behind', async () => {
    const ftp = await h.run(['/transfer', 'bad', 'ftp://example.com/x', join(h.out, 'x')]);
    expect(ftp.code).toBe(1);
    expect(ftp.stderr).toContain('0x80070057 E_INVALIDARG');
    const upload = await h.run(['/transfer', 'up', '/upload', await h.source('u', 'u'), join(h.out, 'u')]);
    expect(upload.code).toBe(1);
    expect(upload.stderr).toContain('file:// is supported for DOWNLOAD jobs only');
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });

  it('usage errors: unpaired names, a bad priority, no files', async () => {
    const odd = await h.run(['/transfer', 'x', 'file:///a', '/tmp/a', 'file:///b']);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('Every REMOTE needs a LOCAL; got 3 names.');
    expect(odd.stderr).toContain('Usage: bitsadmin /transfer NAME [/download|/upload|/upload-reply] [/priority P] [/dynamic] REMOTE LOCAL');
    expect((await h.run(['/transfer', 'x', '/priority', 'fast', 'file:///a', '/tmp/a'])).code).toBe(2);
    expect((await h.run(['/transfer', 'x'])).code).toBe(2);
    expect(h.sockets).toEqual([]);
  });
});

describe('/transfer /upload and /upload-reply against bits-server', () => {
  let server: BitsServer;
  let srv: string;
  const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

  beforeEach(async () => {
    srv = join(h.dir, 'srv');
    await mkdir(srv);
    // The reply names the upload's size and digest, so a right reply proves the server saw the right bytes.
    server = await startBitsServer({
      root: srv,
      replyHandler: async (uploaded) => {
        const data = await readFile(uploaded);
        return { body: `stored ${data.length} bytes sha256=${sha(data)}` };
      },
    });
  });

  afterEach(async () => {
    await server.close();
  });

  /** A local file of `size` random bytes under the harness directory. */
  async function payload(name: string, size: number): Promise<{ path: string; data: Buffer }> {
    const data = randomBytes(size);
    const path = join(h.dir, name);
    await writeFile(path, data);
    return { path, data };
  }

  it('/upload: the server copy is byte-identical; text progress, then Transfer complete.', async () => {
    const { path, data } = await payload('up.bin', 300 * 1024 + 17);
    const r = await h.run(['/transfer', 'nightly', '/upload', '/priority', 'high', `${server.url}/up/nightly.bin`, path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DISPLAY: 'nightly' TYPE: UPLOAD PRIORITY: HIGH JOB: \{[0-9A-F-]{36}\}$/);
    expect(lines.at(-2)).toBe(`STATE: TRANSFERRED FILES: 1 / 1 BYTES: ${data.length} / ${data.length} (100%)`);
    expect(lines.at(-1)).toBe('Transfer complete.');
    const stored = await readFile(join(srv, 'up', 'nightly.bin'));
    expect(stored.length).toBe(data.length);
    expect(stored.equals(data)).toBe(true);
    expect(server.packets.filter((p) => p.kind === 'create-session')).toHaveLength(1);
    expect(await h.mgr.enumJobs()).toHaveLength(0);

    // --json: the final job object only, ACKNOWLEDGED, UPLOAD.
    const second = await payload('up2.bin', 4096);
    const j = await h.run(['--json', '/transfer', 'nightly-json', '/upload', `${server.url}/up/second.bin`, second.path]);
    expect(j.stderr).toBe('');
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      displayName: 'nightly-json',
      type: 'UPLOAD',
      state: 'ACKNOWLEDGED',
      result: 'S_OK',
      progress: { bytesTotal: 4096, bytesTransferred: 4096, filesTotal: 1, filesTransferred: 1 },
      files: [{ remoteName: `${server.url}/up/second.bin`, localName: second.path, completed: true }],
    });
    expect((await readFile(join(srv, 'up', 'second.bin'))).equals(second.data)).toBe(true);
  });

  it('/upload-reply: the upload is byte-identical and the reply is saved next to the upload file', async () => {
    const { path, data } = await payload('report.bin', 100 * 1024 + 3);
    const r = await h.run(['/transfer', 'report', '/upload-reply', `${server.url}/up/report.bin`, path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DISPLAY: 'report' TYPE: UPLOAD-REPLY PRIORITY: NORMAL JOB: \{[0-9A-F-]{36}\}\n/);
    expect(r.stdout.endsWith('Transfer complete.\n')).toBe(true);
    expect((await readFile(join(srv, 'up', 'report.bin'))).equals(data)).toBe(true);
    // No /setreplyfilename in /transfer: bitsd picks LOCAL.reply (docs/cli.md), written on Complete.
    expect(await readFile(`${path}.reply`, 'utf8')).toBe(`stored ${data.length} bytes sha256=${sha(data)}`);
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });

  it('/upload-reply --json: the final UPLOAD_REPLY job object; the reply file holds the answer', async () => {
    const { path, data } = await payload('report2.bin', 2500);
    const r = await h.run(['--json', '/transfer', 'report-json', '/upload-reply', `${server.url}/up/report2.bin`, path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      displayName: 'report-json',
      type: 'UPLOAD_REPLY',
      state: 'ACKNOWLEDGED',
      result: 'S_OK',
      progress: { bytesTotal: 2500, bytesTransferred: 2500, filesTotal: 1, filesTransferred: 1 },
      error: null,
    });
    expect((await readFile(join(srv, 'up', 'report2.bin'))).equals(data)).toBe(true);
    expect(await readFile(`${path}.reply`, 'utf8')).toBe(`stored 2500 bytes sha256=${sha(data)}`);
  });

  it('/upload to a server that refuses it: the error, the job cancelled, exit 1', async () => {
    const { path } = await payload('refused.bin', 10);
    // Create-Session answered 403 with BITS-Error-Code BG_E_HTTP_ERROR_403: a fatal error for BITS.
    server.setFaults({ 'create-session': [{ kind: 'status', status: 403, times: 'forever' }] });
    const r = await h.run(['/transfer', 'refused', '/upload', `${server.url}/up/refused.bin`, path]);
    expect(r.code).toBe(1);
    const err = r.stderr.split('\n');
    expect(err[0]).toMatch(/^ERROR: 0x80190193 BG_E_HTTP_ERROR_403 - The client does not have sufficient access rights to the requested server object\. \(.+\)$/);
    expect(err[1]).toBe(`ERROR FILE:    ${server.url}/up/refused.bin -> ${path}`);
    expect(err[2]).toBe('ERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed.');
    expect(err[3]).toMatch(/^Job \{[0-9A-F-]{36}\} canceled\.$/);
    expect(existsSync(join(srv, 'up', 'refused.bin'))).toBe(false);
    expect(await h.mgr.enumJobs()).toHaveLength(0);
  });
});

describe('progress rendering', () => {
  const view = (state: 'TRANSFERRING' | 'QUEUED', bytesTransferred: number, bytesTotal: number | null) => ({
    state,
    progress: { bytesTotal, bytesTransferred, filesTotal: 1, filesTransferred: 0 },
  });

  it('lines and bars, with and without a known size', () => {
    expect(progressLine(view('TRANSFERRING', 512, 1024))).toBe('STATE: TRANSFERRING FILES: 0 / 1 BYTES: 512 / 1024 (50%)');
    expect(progressLine(view('QUEUED', 0, null))).toBe('STATE: QUEUED FILES: 0 / 1 BYTES: 0 / UNKNOWN');
    expect(progressBar(view('TRANSFERRING', 512, 1024), 80)).toBe(`[${'#'.repeat(19)}${'-'.repeat(19)}]  50% 512 / 1024 bytes TRANSFERRING`);
    // The width depends on the total, not on the bytes done or the state: no jumping bar.
    expect(progressBar(view('TRANSFERRING', 1024, 1024), 80).indexOf(']')).toBe(progressBar(view('QUEUED', 0, 1024), 80).indexOf(']'));
    expect(progressBar(view('QUEUED', 0, null), 40)).toBe('[----------]  --- 0 / UNKNOWN bytes QUEUED');
  });

  it('plain lines: at most one a second, but every state change at once', () => {
    let now = 0;
    let out = '';
    const r = new ProgressReporter({ write: (s: string) => (out += s) }, { tty: false, now: () => now });
    r.update(view('QUEUED', 0, 100));
    r.update(view('TRANSFERRING', 10, 100)); // state change: printed
    now = 500;
    r.update(view('TRANSFERRING', 20, 100)); // same state within a second: skipped
    now = 1200;
    r.update(view('TRANSFERRING', 30, 100));
    r.finish(view('TRANSFERRING', 40, 100)); // the last view is always printed
    expect(out.split('\n').filter(Boolean).map((l) => l.replace(/^STATE: (\w+).*BYTES: (\d+).*$/, '$1 $2'))).toEqual([
      'QUEUED 0',
      'TRANSFERRING 10',
      'TRANSFERRING 30',
      'TRANSFERRING 40',
    ]);
  });
});
