/**
 * The real binaries (dist/, built by `npx tsc -p tsconfig.json`): bitsadmin without a daemon, then
 * a real bitsd and a full file:// download driven by separate bitsadmin processes, including
 * Ctrl-C (SIGINT) during /transfer; the daemon is stopped with SIGTERM at the end.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BITSD, BITSADMIN, cleanEnv, runBitsadmin, type RunOptions, spawnDaemon, type SpawnedDaemon } from '../daemon/spawn.js';
import { waitFor } from '../helpers/temp.js';


interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bitsadmin; `onStdout` may signal the child (Ctrl-C). */
const bitsadmin = (args: readonly string[], options: RunOptions = {}): Promise<Run> => runBitsadmin(args, options);

let dir: string;

beforeAll(async () => {
  for (const bin of [BITSADMIN, BITSD]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build with "npx tsc -p tsconfig.json" first`);
  }
  dir = await mkdtemp(join(tmpdir(), 'bitsd-cli-bin-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bitsadmin without a daemon', () => {
  it('prints one line saying how to start bitsd and exits 3', async () => {
    const socket = join(dir, 'nobody', 'bitsd.sock');
    const r = await bitsadmin(['--socket', socket, '/list']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ERROR: 0x8020002d BG_E_CONNECT_FAILURE - bitsd is not running: nothing answers on ${socket} (ENOENT). Start it with: bitsd --socket ${socket}\n`);
    const viaEnv = await bitsadmin(['/getstate', 'x'], { env: cleanEnv({ BITSD_SOCKET: socket }) });
    expect(viaEnv.code).toBe(3);
    expect(viaEnv.stderr).toMatch(/Start it with: bitsd\n$/);
  });

  it('usage errors and /help need no daemon', async () => {
    const usage = await bitsadmin(['--socket', join(dir, 'none.sock'), '/addfile', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: bitsadmin /addfile JOB REMOTE LOCAL');
    const help = await bitsadmin(['/?']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('/transfer NAME');
  });
});

describe('bitsadmin against a real bitsd', () => {
  let daemon: SpawnedDaemon;
  let socket: string;
  let out: string;
  const admin = (...args: string[]): Promise<Run> => bitsadmin(['--socket', socket, ...args]);

  beforeAll(async () => {
    socket = join(dir, 'run', 'bitsd.sock');
    out = join(dir, 'out');
    await mkdir(out);
    daemon = await spawnDaemon({ dataDir: join(dir, 'data'), socket, scope: 'file' });
  });

  afterAll(async () => {
    if (!daemon) return;
    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });

  it('/create, /addfile, /resume, /getstate polling, /complete, /info --json', async () => {
    const src = join(dir, 'payload.txt');
    await writeFile(src, 'payload over IPC\n');
    const created = await admin('/rawreturn', '/create', 'ipc job');
    expect(created.code).toBe(0);
    const id = created.stdout;
    expect(id).toMatch(/^\{[0-9A-F-]{36}\}$/);
    expect((await admin('/addfile', 'ipc job', pathToFileURL(src).href, join(out, 'payload.txt'))).code).toBe(0);

    const info = await admin('--json', '/info', id);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      id,
      displayName: 'ipc job',
      state: 'SUSPENDED',
      type: 'DOWNLOAD',
      owner: expect.any(String),
      progress: { bytesTotal: null, filesTotal: 1 },
      files: [{ remoteName: pathToFileURL(src).href, localName: join(out, 'payload.txt'), completed: false }],
    });

    expect((await admin('/resume', id)).stdout).toBe('Job resumed.\n');
    await waitFor(async () => (await admin('/rawreturn', '/getstate', id)).stdout === 'TRANSFERRED', 15_000, 'TRANSFERRED');
    const listed = await admin('/list');
    expect(listed.stdout).toContain(`${id} 'ipc job' TRANSFERRED 1 / 1 17 / 17`);
    expect((await admin('/complete', id)).stdout).toBe('Job completed.\n');
    expect(await readFile(join(out, 'payload.txt'), 'utf8')).toBe('payload over IPC\n');
    const gone = await admin('/getstate', id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('BG_E_NOT_FOUND');
  });

  it('/transfer runs a job to the end; --json prints the final job object', async () => {
    const src = join(dir, 'second.txt');
    await writeFile(src, 'second');
    const r = await admin('/transfer', 'xfer', pathToFileURL(src).href, join(out, 'second.txt'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DISPLAY: 'xfer' TYPE: DOWNLOAD PRIORITY: NORMAL JOB: \{/);
    expect(r.stdout.endsWith('STATE: TRANSFERRED FILES: 1 / 1 BYTES: 6 / 6 (100%)\nTransfer complete.\n')).toBe(true);
    expect(await readFile(join(out, 'second.txt'), 'utf8')).toBe('second');

    const j = await admin('--json', '/transfer', 'xfer-json', pathToFileURL(src).href, join(out, 'third.txt'));
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ displayName: 'xfer-json', state: 'ACKNOWLEDGED', result: 'S_OK', progress: { bytesTransferred: 6 } });
  });

  it('Ctrl-C during /transfer cancels the job and exits 130', async () => {
    // Nothing listens on port 9 (discard): the job waits in TRANSIENT_ERROR until interrupted.
    let sent = false;
    const r = await bitsadmin(['--socket', socket, '/transfer', 'interrupted', 'http://127.0.0.1:9/file', join(out, 'never')], {
      onStdout: (text, kill) => {
        if (!sent && text.includes('Waiting: retry at')) {
          sent = true;
          kill('SIGINT');
        }
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^Transfer interrupted: job \{[0-9A-F-]{36}\} canceled\.\n$/);
    const left = await admin('--json', '/list');
    expect(JSON.parse(left.stdout)).toEqual({ jobs: [] });
  });
});
