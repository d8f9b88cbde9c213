/**
 * The bits-server binary, spawned for real: it is compiled (server files only) into a temp
 * directory first, because the package build may be absent or broken by unrelated work.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitsClient, tempDir } from './helpers.js';

const run = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;
let build: { path: string; remove: () => Promise<void> };
let root: { path: string; remove: () => Promise<void> };
let bin: string;

beforeAll(async () => {
  build = await tempDir('bin-build');
  root = await tempDir('bin-root');
  await run(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '--outDir', build.path, '--rootDir', join(repo, 'src'),
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2023',
      '--types', 'node', '--strict', '--skipLibCheck',
      join(repo, 'src/bin/bits-server.ts'),
    ],
    { cwd: repo },
  );
  // The compiled ESM needs "type": "module" to load as ESM.
  await writeFile(join(build.path, 'package.json'), '{"type":"module"}');
  bin = join(build.path, 'bin/bits-server.js');
}, 60_000);

afterAll(async () => {
  await build?.remove();
  await root?.remove();
});

function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening line: ${out}`));
    }, 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${out}`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('bits-server binary', () => {
  it('prints one listening line, serves uploads with a fault plan, exits 0 on SIGTERM', async () => {
    const faults = join(root.path, 'faults.json');
    await writeFile(faults, JSON.stringify({ ping: [{ kind: 'status', status: 503, times: 1 }] }));
    const { child, url } = await start(['--root', join(root.path, 'files'), '--port', '0', '--faults', faults]);
    const bits = new BitsClient(url);
    try {
      expect((await bits.post('/p', 'Ping')).status).toBe(503);
      expect((await bits.post('/p', 'Ping')).status).toBe(200);
      await bits.upload('/up/x.txt', Buffer.from('hello'), 2);
    } finally {
      await bits.close();
    }
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('exits 0 on SIGINT', async () => {
    const { child } = await start(['--root', root.path]);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('refuses a bad fault plan and unknown flags with exit 2', async () => {
    const faults = join(root.path, 'bad.json');
    await writeFile(faults, '{"ping":[{"kind":"explode"}]}');
    for (const args of [['--root', root.path, '--faults', faults], ['--root', root.path, '--bogus'], []]) {
      const child = spawn(process.execPath, [bin, ...args], { stdio: 'ignore' });
      expect(await exited(child)).toBe(2);
    }
  });
});
