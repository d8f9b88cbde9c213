/**
 * BitsClient's side of things: what it says when bitsd is not there, when a socket answers
 * wrongly or not at all, when the daemon goes away mid-call, and after close().
 */
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BitsClient } from '../../src/index.js';
import { BitsError } from '../../src/shared/errors.js';
import { defaultSocketLocation } from '../../src/ipc/socket-path.js';
import { rejectsWith } from '../api-contract/contract.js';
import { tempDir } from '../helpers/temp.js';
import { startIpcServer } from './in-process-server.js';

const fakes: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(fakes.splice(0).map((f) => new Promise((resolve) => f.close(resolve))));
});

/** A socket server that answers each client's first line with `reply` (or stays silent). */
async function fakeDaemon(path: string, reply: ((line: string) => string) | null): Promise<void> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      const nl = buffered.indexOf('\n');
      if (nl < 0 || reply === null) return;
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      socket.write(reply(line));
    });
  });
  fakes.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
}

describe('BitsClient.connect', () => {
  it('no daemon: BG_E_CONNECT_FAILURE saying how to start it', async () => {
    const socket = join(await tempDir(), 'none.sock');
    const err = await rejectsWith(BitsClient.connect({ socket }), 'BG_E_CONNECT_FAILURE');
    expect(err.message).toBe(`bitsd is not running (no socket at ${socket}): start it with \`bitsd\` or \`systemctl --user start bitsd\`.`);
  });

  it('a stale socket file nobody listens on: also "not running"', async () => {
    const socket = join(await tempDir(), 'stale.sock');
    // A process that binds the socket and dies by SIGKILL leaves the file behind, like a crash.
    const script = `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await new Promise((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).once('exit', resolve));
    expect((await lstat(socket)).isSocket()).toBe(true);
    const err = await rejectsWith(BitsClient.connect({ socket, timeoutMs: 1000 }), 'BG_E_CONNECT_FAILURE');
    expect(err.message).toMatch(/^bitsd is not running \(nothing listens on .*stale.sock; the socket was left by a daemon that stopped\): start it with/);
  });

  it('a socket that never answers hello: BG_E_TIMEOUT', async () => {
    const socket = join(await tempDir(), 'silent.sock');
    await fakeDaemon(socket, null);
    const started = Date.now();
    await rejectsWith(BitsClient.connect({ socket, timeoutMs: 200 }), 'BG_E_TIMEOUT', /did not answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('another protocol version, or something that is not bitsd, is refused clearly', async () => {
    const dir = await tempDir();
    await fakeDaemon(join(dir, 'v2.sock'), () => '{"type":"hello","ok":true,"version":2,"server":"bitsd 9","pid":1}\n');
    await rejectsWith(BitsClient.connect({ socket: join(dir, 'v2.sock') }), 'BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH', /speaks IPC version 2/);
    await fakeDaemon(join(dir, 'http.sock'), () => 'HTTP/1.1 400 Bad Request\r\n\r\n');
    await rejectsWith(BitsClient.connect({ socket: join(dir, 'http.sock'), timeoutMs: 1000 }), 'BG_E_INVALID_SERVER_RESPONSE');
    await fakeDaemon(join(dir, 'refuse.sock'), () => '{"type":"hello","ok":false,"error":{"hresult":2147942414,"code":"E_OUTOFMEMORY","context":"NONE","message":"full"}}\n');
    await rejectsWith(BitsClient.connect({ socket: join(dir, 'refuse.sock') }), 'E_OUTOFMEMORY', /full/);
  });

  it('a call the daemon never answers times out with BG_E_TIMEOUT', async () => {
    const socket = join(await tempDir(), 'mute.sock');
    let first = true;
    await fakeDaemon(socket, () => {
      if (!first) return '';
      first = false;
      return '{"type":"hello","ok":true,"version":1,"server":"bitsd fake","pid":42}\n';
    });
    const client = await BitsClient.connect({ socket, timeoutMs: 150 });
    expect(client.server).toEqual({ socket, version: 1, server: 'bitsd fake', pid: 42 });
    await rejectsWith(client.enumJobs(), 'BG_E_TIMEOUT', /manager.enumJobs/);
    await client.close();
  });
});

describe('BitsClient when the connection ends', () => {
  it('the daemon going away fails pending calls and watches with BG_E_CONNECTION_CLOSED', async () => {
    const s = await startIpcServer(await tempDir());
    const client = await BitsClient.connect({ socket: s.socket });
    const job = await client.createJob('w', 'DOWNLOAD');
    await job.addFile('http://127.0.0.1:9/x', join(await tempDir(), 'x'));
    await job.setProxySettings('NO_PROXY');
    await job.resume();
    const reasons: Error[] = [];
    client.onDisconnect((e) => reasons.push(e));
    const watching = (async () => {
      for await (const ev of job.watch()) void ev;
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await s.close();
    await expect(watching).rejects.toMatchObject({ code: 'BG_E_CONNECTION_CLOSED' });
    await rejectsWith(job.getState(), 'BG_E_CONNECTION_CLOSED', /closed/);
    expect(client.closed).toBe(true);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(BitsError);
    await client.close();
  });

  it('after close(): calls fail with BG_E_INVALID_STATE, on() is inert, the daemon keeps serving others', async () => {
    const s = await startIpcServer(await tempDir());
    const a = await BitsClient.connect({ socket: s.socket });
    const b = await BitsClient.connect({ socket: s.socket });
    const job = await a.createJob('shared', 'DOWNLOAD');
    await a.close();
    await a.close();
    await rejectsWith(a.enumJobs(), 'BG_E_INVALID_STATE');
    const off = a.on('job:transferred', () => undefined);
    off();
    expect((await b.getJob(job.id)).id).toBe(job.id);
    await b.close();
  });

  it('arguments JSON cannot carry are refused locally with E_INVALIDARG', async () => {
    const s = await startIpcServer(await tempDir());
    const client = await BitsClient.connect({ socket: s.socket });
    await rejectsWith(client.getErrorDescription(10n as unknown as number), 'E_INVALIDARG', /cannot be sent as JSON/);
    expect(await client.getErrorDescription(0)).toBe('The operation completed successfully.');
    await client.close();
  });
});

describe('default socket location', () => {
  it('BITSD_SOCKET, then XDG_RUNTIME_DIR, then a per-user directory under TMPDIR or /tmp', () => {
    expect(defaultSocketLocation({ BITSD_SOCKET: '/s/x.sock', XDG_RUNTIME_DIR: '/run/user/1' }, 1)).toEqual({ socket: '/s/x.sock', source: 'BITSD_SOCKET' });
    expect(defaultSocketLocation({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toEqual({ socket: '/run/user/1000/bitsd/bitsd.sock', source: 'XDG_RUNTIME_DIR' });
    expect(defaultSocketLocation({ XDG_RUNTIME_DIR: 'relative' }, 1000).socket).toBe('/tmp/bitsd-1000/bitsd.sock');
    expect(defaultSocketLocation({ TMPDIR: '/var/tmp' }, 7)).toEqual({ socket: '/var/tmp/bitsd-7/bitsd.sock', source: 'fallback' });
  });
});
