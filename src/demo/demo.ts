/**
 * `npm run demo`: bitsd as users run it. Starts the `bitsd` daemon on a temporary data directory
 * and socket and `bits-server` on loopback, then drives one upload, one upload-reply and one
 * download through the `bitsadmin` CLI (separate processes, over IPC), showing progress, /info of
 * each job once TRANSFERRED, and /complete. Everything it started is stopped and its temporary
 * directory removed, also on failure or Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin');
const children: ChildProcess[] = [];

function say(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

async function bitsadmin(socket: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(bin, 'bitsadmin.js'), '--socket', socket, ...args]);
  return stdout;
}

/** Starts a child and resolves once `ready` matches a line of its stdout or stderr. */
function start(name: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 10 s`)), 10_000);
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => ready.test(l));
      if (line) {
        clearTimeout(timer);
        resolve({ child, line });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${seen}`));
    });
  });
}

interface JobJson {
  state: string;
  progress: { bytesTotal: number | null; bytesTransferred: number };
  error: { code: string; description: string } | null;
}

/** Shows progress until the job rests; returns its final state. */
async function follow(socket: string, id: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 3000; i++) {
    const job = JSON.parse(await bitsadmin(socket, '--json', '/info', id)) as JobJson;
    const { bytesTransferred, bytesTotal } = job.progress;
    const pct = bytesTotal ? Math.floor((100 * bytesTransferred) / bytesTotal) : 0;
    const line = `   ${job.state.padEnd(15)} ${bytesTransferred} / ${bytesTotal ?? 'UNKNOWN'} bytes (${pct}%)`;
    if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
    if (['TRANSFERRED', 'ERROR', 'SUSPENDED'].includes(job.state)) {
      if (job.error) process.stdout.write(`   error: ${job.error.code} ${job.error.description}\n`);
      return job.state;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`job ${id} did not finish in time`);
}

async function transfer(socket: string, type: string, name: string, remote: string, local: string): Promise<string> {
  say(`${name}: bitsadmin /create ${type} "${name}"`);
  const id = (await bitsadmin(socket, '/rawreturn', '/create', type, name)).trim();
  await bitsadmin(socket, '/addfile', id, remote, local);
  await bitsadmin(socket, '/setpriority', id, 'FOREGROUND');
  await bitsadmin(socket, '/resume', id);
  const state = await follow(socket, id);
  process.stdout.write(await bitsadmin(socket, '/info', id, '/verbose'));
  if (state !== 'TRANSFERRED') throw new Error(`${name} ended in ${state}`);
  return id;
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bitsd-demo-'));
  try {
    const served = join(work, 'server-root');
    const local = join(work, 'client');
    await mkdir(served);
    await mkdir(local);
    const socket = join(work, 'run', 'bitsd.sock');

    const server = await start('bits-server', [join(bin, 'bits-server.js'), '--root', served, '--reply', 'summary'], /listening on /);
    const url = /listening on (\S+)/.exec(server.line)?.[1] as string;
    say(`bits-server ${url} serving ${served}`);
    await start('bitsd', [join(bin, 'bitsd.js'), '--data-dir', join(work, 'data'), '--socket', socket], /ready/);
    say(`bitsd listening on ${socket}`);

    const upload = randomBytes(8 * 1024 * 1024);
    await writeFile(join(local, 'report.bin'), upload);
    const up = await transfer(socket, '/upload', 'demo upload', `${url}/uploads/report.bin`, join(local, 'report.bin'));
    process.stdout.write(await bitsadmin(socket, '/complete', up));
    const uploaded = await readFile(join(served, 'uploads', 'report.bin'));
    process.stdout.write(`   server copy ${sha(uploaded)} = local ${sha(upload)}: ${uploaded.equals(upload) ? 'identical' : 'DIFFERENT'}\n`);

    const ur = await transfer(socket, '/upload-reply', 'demo upload-reply', `${url}/uploads/with-reply.bin`, join(local, 'report.bin'));
    say('bitsadmin /getreplydata (the server application\'s reply)');
    process.stdout.write(await bitsadmin(socket, '/getreplydata', ur));
    process.stdout.write(await bitsadmin(socket, '/complete', ur));

    const download = randomBytes(16 * 1024 * 1024);
    await writeFile(join(served, 'big.bin'), download);
    const dl = await transfer(socket, '/download', 'demo download', `${url}/big.bin`, join(local, 'big.copy'));
    process.stdout.write(await bitsadmin(socket, '/complete', dl));
    const copy = await readFile(join(local, 'big.copy'));
    process.stdout.write(`   downloaded ${sha(copy)} = served ${sha(download)}: ${copy.equals(download) ? 'identical' : 'DIFFERENT'}\n`);
    if (!copy.equals(download) || !uploaded.equals(upload)) process.exitCode = 1;
    say('done');
  } finally {
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

process.once('SIGINT', () => {
  void stopAll().then(() => process.exit(130));
});

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
