/**
 * The network namespace harness itself (test/helpers/netns.ts): a TCP connection from the client
 * to the server works, fails while the client's link is down, works again after it is up, and
 * destroy() leaves no namespace and no process behind. Root only: skipped with a message otherwise.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetPair, netnsUnavailable, type NetPair } from '../helpers/netns.js';

const run = promisify(execFile);
const why = netnsUnavailable();
if (why !== null) console.warn(`netns.test.ts skipped: ${why}`);

const PORT = 8413;
/** Listens on PORT and says so; every connection gets "hello". */
const SERVER = `require('node:net').createServer((s) => s.end('hello')).listen(${PORT}, () => console.log('listening'));`;
/** Connects to argv[1]:PORT within a second; prints what it read, or the error code. */
const CONNECT = `const s = require('node:net').connect({ host: process.argv[1], port: ${PORT}, timeout: 1000 });
let got = ''; s.on('data', (d) => (got += d)); s.on('end', () => console.log(got));
s.on('timeout', () => { console.log('ETIMEDOUT'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`;

const pairs: NetPair[] = [];
afterEach(async () => {
  for (const pair of pairs.splice(0)) await pair.destroy();
});

async function pair(): Promise<NetPair> {
  const p = await createNetPair();
  pairs.push(p);
  return p;
}

function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function connect(p: NetPair, host: string): Promise<string> {
  return (await p.execIn('client', process.execPath, ['-e', CONNECT, host])).stdout.trim();
}

/** Whether a process runs: not gone, and not a zombie waiting for its new parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function namespaces(): Promise<string> {
  return (await run('ip', ['netns', 'list'])).stdout;
}

describe.skipIf(why !== null)('network namespace pairs', () => {
  it('connects the client to the server over the veth, not while the link is down, and again once it is up', async () => {
    const p = await pair();
    expect(p.clientAddress).toMatch(/^10\.213\.\d+\.2$/);
    expect(p.serverAddress).toBe(p.clientAddress.replace(/\.2$/, '.1'));
    const server = p.spawnIn('server', process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await listening(server);
    expect(await connect(p, p.serverAddress)).toBe('hello');
    expect(await connect(p, p.serverAddress6)).toBe('hello');
    expect((await p.execIn('client', 'ip', ['route'])).stdout).toContain(`default via ${p.serverAddress} dev ${p.clientDevice}`);

    await p.linkDown();
    expect(await connect(p, p.serverAddress)).toBe('ENETUNREACH');
    expect(await connect(p, p.serverAddress6)).toBe('ENETUNREACH');
    expect((await p.execIn('client', 'ip', ['route'])).stdout).not.toContain('default');

    await p.linkUp();
    expect(await connect(p, p.serverAddress)).toBe('hello');
    expect(await connect(p, p.serverAddress6)).toBe('hello');
    expect((await p.execIn('client', 'ip', ['route'])).stdout).toContain(`default via ${p.serverAddress}`);
    expect((await p.execIn('client', 'ip', ['-6', 'route'])).stdout).toContain(`default via ${p.serverAddress6}`);
    // The server namespace cannot reach the host: nothing routes out of the pair.
    expect((await p.execIn('server', 'ip', ['route'])).stdout).not.toContain('default');
  });

  it('gives each pair its own namespaces and subnet', async () => {
    const [a, b] = [await pair(), await pair()];
    expect(new Set([a.client, a.server, b.client, b.server]).size).toBe(4);
    expect(a.serverAddress).not.toBe(b.serverAddress);
    const list = await namespaces();
    for (const ns of [a.client, a.server, b.client, b.server]) expect(list).toContain(ns);
  });

  it('destroy() kills what runs in the namespaces and deletes them, and may be called again', async () => {
    const p = await pair();
    const server = p.spawnIn('server', process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await listening(server);
    // A process the harness did not start itself: it goes too.
    const shell = p.spawnIn('client', 'sh', ['-c', 'sleep 300 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stray = Number(await new Promise<string>((resolve) => shell.stdout?.once('data', (d: Buffer) => resolve(d.toString()))));
    expect(alive(stray)).toBe(true);
    const exited = new Promise((resolve) => server.once('exit', resolve));
    await p.destroy();
    await exited;
    const list = await namespaces();
    expect(list).not.toContain(p.client);
    expect(list).not.toContain(p.server);
    expect(alive(stray)).toBe(false);
    await p.destroy();
    expect(() => p.spawnIn('client', 'true', [])).toThrow(/after destroy/);
  });

  it('a pair its process forgot is deleted when the process exits', async () => {
    const helper = fileURLToPath(new URL('../../dist/test/helpers/netns.js', import.meta.url));
    const script = `const m = await import(${JSON.stringify(helper)}); const p = await m.createNetPair(); console.log(p.client, p.server); process.exit(0);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    const names = stdout.trim().split(' ');
    expect(names).toHaveLength(2);
    const list = await namespaces();
    for (const ns of names) expect(list).not.toContain(ns);
  });
});
