/**
 * setCredentials is write-only, across a reopen and on every surface: after the manager is closed
 * and reopened (here behind an in-process IPC server), no getter of the job, no IPC answer or watch
 * snapshot, and no bitsadmin /info, /list /verbose or /geterror output (text or --json) contains
 * the password or the Authorization value made from it, in ERROR (credentials rejected) nor after
 * success; meanwhile the credentials are still stored and used: a loopback server that demands
 * Basic auth receives them, after the reopen, and serves the file.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, BitsClient, HttpDownloadEngine, JOB_PROPERTIES, UndiciTransport } from '../../src/index.js';
import type { BackgroundCopyJob, JobPropertyName } from '../../src/index.js';
import { readJobDetails } from '../../src/cli/snapshot.js';
import { runCli } from '../../src/cli/run.js';
import { DATABASE_FILE } from '../../src/store/job-store.js';
import { startIpcServer } from '../ipc/in-process-server.js';
import { tempDir } from '../helpers/temp.js';

const USER = 'alice';
const BODY = Buffer.from('the protected file\n');

interface AuthServer {
  readonly url: string;
  /** Authorization headers received, in order. */
  readonly authorizations: string[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/**
 * Serves BODY at /file to requests carrying `Basic base64(USER:password)`, with HEAD and Range.
 * The first request that carries the right credentials is still answered 401 (as if the account
 * were locked for a moment), so the job goes to ERROR once with its credentials in play.
 */
async function startAuthServer(password: string): Promise<AuthServer> {
  const expected = `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;
  const authorizations: string[] = [];
  let rejectNextGood = true;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = req.headers.authorization;
    if (auth !== undefined) authorizations.push(auth);
    const good = auth === expected;
    if (!good || rejectNextGood) {
      if (good) rejectNextGood = false;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="bitsd-test"', 'Content-Length': '0' });
      res.end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Number(range[2]) : BODY.length - 1;
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Last-Modified': 'Thu, 01 Jan 2026 00:00:00 GMT', 'Content-Length': String(end - start + 1) };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${BODY.length}`;
    res.writeHead(range ? 206 : 200, headers);
    res.end(req.method === 'HEAD' ? undefined : BODY.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/file`, authorizations, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Every getter of the job (and of its files), with the messages of those that refuse, as text. */
async function everyGetter(job: BackgroundCopyJob): Promise<string> {
  const out: Record<string, unknown> = {};
  const read = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      out[name] = await fn();
    } catch (err) {
      out[name] = { refused: (err as Error).message, code: (err as { code?: string }).code };
    }
  };
  await read('type', () => job.getType());
  await read('state', () => job.getState());
  await read('progress', () => job.getProgress());
  await read('times', () => job.getTimes());
  await read('error', () => job.getError());
  await read('errorCount', () => job.getErrorCount());
  await read('owner', () => job.getOwner());
  await read('displayName', () => job.getDisplayName());
  await read('description', () => job.getDescription());
  await read('priority', () => job.getPriority());
  await read('notifyFlags', () => job.getNotifyFlags());
  await read('notifyCmdLine', () => job.getNotifyCmdLine());
  await read('minRetryDelay', () => job.getMinimumRetryDelay());
  await read('noProgressTimeout', () => job.getNoProgressTimeout());
  await read('maxDownloadTime', () => job.getMaximumDownloadTime());
  await read('proxy', () => job.getProxySettings());
  await read('customHeaders', () => job.getCustomHeaders());
  await read('securityFlags', () => job.getSecurityFlags());
  await read('clientCertificate', () => job.getClientCertificate());
  await read('httpMethod', () => job.getHttpMethod());
  await read('replyFileName', () => job.getReplyFileName());
  await read('replyProgress', () => job.getReplyProgress());
  await read('replyData', () => job.getReplyData());
  for (const name of Object.keys(JOB_PROPERTIES) as JobPropertyName[]) await read(`property ${name}`, () => job.getProperty(name));
  const files = await job.enumFiles();
  for (const f of files) {
    await read(`file ${f.index}`, async () => ({
      remoteName: await f.getRemoteName(),
      localName: await f.getLocalName(),
      progress: await f.getProgress(),
      temporaryName: await f.getTemporaryName(),
      ranges: await f.getFileRanges(),
    }));
  }
  return JSON.stringify(out);
}

async function cli(socket: string, argv: string[]): Promise<string> {
  let text = '';
  const sink = { write: (chunk: string) => (text += chunk) };
  const code = await runCli(argv, { stdout: sink, stderr: sink, isTTY: false, env: {} }, async () => BitsClient.connect({ socket }));
  expect(code, text).toBe(0);
  return text;
}

describe('credentials are write-only across a reopen, yet still used', () => {
  it('no getter, IPC answer, watch snapshot or bitsadmin output shows them; the server receives them', async () => {
    const dir = await tempDir();
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const proxyPassword = `proxy-${randomBytes(12).toString('hex')}`;
    const secrets = [password, proxyPassword, Buffer.from(`${USER}:${password}`).toString('base64'), Buffer.from(`proxyuser:${proxyPassword}`).toString('base64')];
    const expectClean = (text: string, where: string): void => {
      expect(text.length, where).toBeGreaterThan(0);
      for (const secret of secrets) expect(text.includes(secret), `${where} contains a secret`).toBe(false);
    };
    const server = await startAuthServer(password);
    const local = join(dir, 'protected.txt');

    // First life: set everything up, then close.
    const first = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), engines: [] });
    const created = await first.createJob('with credentials', 'DOWNLOAD');
    await created.addFile(server.url, local);
    await created.setCredentials({ target: 'SERVER', scheme: 'BASIC', userName: USER, password });
    await created.setCredentials({ target: 'PROXY', scheme: 'BASIC', userName: 'proxyuser', password: proxyPassword });
    const id = created.id;
    await first.close();

    // They are stored (so the checks below are not vacuous)...
    const db = new Database(join(dir, 'data', DATABASE_FILE), { readonly: true, fileMustExist: true });
    const stored = db.prepare('SELECT target, scheme, user_name, password FROM credentials WHERE job_id = ? ORDER BY target').all(id);
    db.close();
    expect(stored).toEqual([
      { target: 'PROXY', scheme: 'BASIC', user_name: 'proxyuser', password: proxyPassword },
      { target: 'SERVER', scheme: 'BASIC', user_name: USER, password },
    ]);

    // Second life, behind an IPC server, with the real HTTP download engine.
    const engine = new HttpDownloadEngine({ transport: new UndiciTransport(), env: {}, timeoutMs: 10_000 });
    const ipc = await startIpcServer(dir, { manager: { engines: [engine] } });
    const client = await BitsClient.connect({ socket: ipc.socket });
    try {
      const inProcess = await ipc.manager.getJob(id);
      const remote = await client.getJob(id);
      const snapshots: string[] = [];
      const watchAll = async (): Promise<void> => {
        for await (const ev of remote.watch()) snapshots.push(JSON.stringify(ev));
      };

      const surfaces = async (phase: string): Promise<void> => {
        expectClean(await everyGetter(inProcess), `${phase}: in-process getters`);
        expectClean(await everyGetter(remote), `${phase}: IPC getters`);
        expectClean(JSON.stringify(await readJobDetails(remote)), `${phase}: IPC job snapshot`);
        expectClean(await cli(ipc.socket, ['--json', '/info', id, '/verbose']), `${phase}: /info --json`);
        expectClean(await cli(ipc.socket, ['/info', id, '/verbose']), `${phase}: /info`);
        expectClean(await cli(ipc.socket, ['--json', '/list', '/verbose']), `${phase}: /list /verbose --json`);
        expectClean(snapshots.join('\n'), `${phase}: watch snapshots`);
      };

      await watchAll(); // SUSPENDED is a resting state: one snapshot
      await surfaces('suspended');

      // The credentials are sent (after the reopen) and rejected once: ERROR with them in play.
      await remote.resume();
      await watchAll();
      expect(await remote.getState()).toBe('ERROR');
      expect((await remote.getError()).code).toBe('BG_E_HTTP_ERROR_401');
      expect(server.authorizations).toContain(`Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`);
      await surfaces('error');
      expectClean(await cli(ipc.socket, ['/geterror', id]), 'error: /geterror');
      expectClean(await cli(ipc.socket, ['--json', '/geterror', id]), 'error: /geterror --json');

      // Resumed, the same stored credentials get the file.
      await remote.resume();
      await watchAll();
      expect(await remote.getState()).toBe('TRANSFERRED');
      await surfaces('transferred');
      expect(await remote.complete()).toBe('S_OK');
      expect(await readFile(local)).toEqual(BODY);
    } finally {
      await client.close();
      await ipc.close();
    }
  });
});
