/**
 * The layering rules of the codebase, checked on the import statements of src/:
 * - the ladder {cli, daemon} -> ipc -> api -> queue -> {engine, store, scheduler, server, network}
 *   -> {transport, protocol, policy} -> job -> shared (RUNG below): a module imports only from
 *   rungs below its own (never up, never across to a sibling);
 * - better-sqlite3 is imported only by src/store, undici only by src/transport;
 * - src/job (state machine, validation, vocabulary) and src/policy (rates, schedules, token bucket,
 *   config schema) are pure: no node: modules, no I/O packages;
 * - src/protocol has its own, stricter check in test/protocol/purity.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = new URL('../../src/', import.meta.url).pathname;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

async function imports(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/**
 * Each top-level directory of src/ on the ladder (higher imports lower). The shells (bin, demo,
 * the package's index) sit on top; the daemon beside the CLI; the scheduler beside the engines
 * and the store; the reference BITS server beside them too (it uses protocol and shared only).
 * On the rung of {transport, protocol, job}, job (the pure vocabulary: states, settings,
 * records) is the lowest: transport and protocol speak it, it imports neither. The bandwidth
 * policy core (policy) sits beside transport and protocol: pure, it may use job and shared, and
 * the engines, queue, daemon, IPC and CLI use it. The network and power watchers (network: the
 * kernel's routes, NetworkManager and UPower) sit beside the engines; the daemon starts them and
 * hands the queue what they see as a policy/network.ts NetworkSource.
 */
const RUNG: Readonly<Record<string, number>> = {
  'index.ts': 8, bin: 8, demo: 8,
  cli: 7, daemon: 7,
  ipc: 6,
  api: 5,
  queue: 4,
  engine: 3, store: 3, scheduler: 3, server: 3, network: 3,
  transport: 2, protocol: 2, policy: 2,
  job: 1,
  shared: 0,
};

/** The top-level module a relative import from `file` lands in, or null for a package. */
function moduleOf(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = relative(src, join(file, '..', spec));
  return target.split('/')[0] ?? null;
}

/** Violations of the ladder among `files` (paths relative to src/ mapped to their imports). */
export function ladderViolations(files: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [rel, specs] of files) {
    const from = rel.split('/')[0] as string;
    for (const spec of specs) {
      const to = moduleOf(join(src, rel), spec);
      if (to === null || to === from) continue;
      const a = RUNG[from];
      const b = RUNG[to];
      if (a === undefined || b === undefined) out.push(`${rel} -> ${spec}: ${a === undefined ? from : to} is not on the ladder`);
      else if (b >= a) out.push(`${rel} -> ${spec}: ${from} (rung ${a}) may not import ${to} (rung ${b})`);
      // The job store is the queue's alone; the data directory's instance lock (a SQLite lock
      // too, so it lives in src/store) is the daemon's.
      else if (to === 'store' && from !== 'queue' && !spec.endsWith('/store/instance-lock.js')) out.push(`${rel} -> ${spec}: the store is private to the queue`);
    }
  }
  return out;
}

describe('layering', () => {
  it('every import goes down the ladder: cli -> ipc -> api -> queue -> {engine, store} -> {transport, protocol, job} -> shared', async () => {
    const files = new Map<string, string[]>();
    for (const file of await sourceFiles(src)) files.set(relative(src, file), await imports(file));
    expect(files.size).toBeGreaterThan(100);
    expect(ladderViolations(files)).toEqual([]);
  });

  it('the ladder check catches an arrow that points up or across (it can fail)', () => {
    const planted = new Map([
      ['transport/x.ts', ['../engine/types.js']],
      ['api/x.ts', ['../store/job-store.js']],
      ['engine/x.ts', ['../store/job-store.js']],
      ['queue/x.ts', ['./funnel.js', '../engine/types.js', '../job/types.js']],
    ]);
    expect(ladderViolations(planted)).toEqual([
      'transport/x.ts -> ../engine/types.js: transport (rung 2) may not import engine (rung 3)',
      'api/x.ts -> ../store/job-store.js: the store is private to the queue',
      'engine/x.ts -> ../store/job-store.js: engine (rung 3) may not import store (rung 3)',
    ]);
  });

  it("no file in src/ is over 400 lines, and the queue's composition root is under 200", async () => {
    const long: string[] = [];
    for (const file of await sourceFiles(src)) {
      const lines = (await readFile(file, 'utf8')).split('\n').length - 1;
      if (lines > 400) long.push(`${relative(src, file)}: ${lines} lines`);
    }
    expect(long).toEqual([]);
    const queueLines = (await readFile(join(src, 'queue/job-queue.ts'), 'utf8')).split('\n').length - 1;
    expect(queueLines).toBeLessThan(200);
  });

  it('only src/store imports better-sqlite3 and only src/transport imports undici', async () => {
    for (const file of await sourceFiles(src)) {
      const rel = relative(src, file);
      for (const spec of await imports(file)) {
        if (spec === 'better-sqlite3') expect(rel.startsWith('store/'), `${rel} imports better-sqlite3`).toBe(true);
        if (spec === 'undici' || spec.startsWith('undici/')) expect(rel.startsWith('transport/'), `${rel} imports undici`).toBe(true);
      }
    }
  });

  it('src/job imports nothing with I/O', async () => {
    const files = await sourceFiles(join(src, 'job'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const spec of await imports(file)) {
        expect(spec.startsWith('./') || spec.startsWith('../shared/errors') || spec.startsWith('../shared/hresult'), `${relative(src, file)} imports ${spec}`).toBe(true);
      }
    }
  });

  it('src/policy imports nothing with I/O: itself, src/job, the error types and the pure host names only', async () => {
    const files = await sourceFiles(join(src, 'policy'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const spec of await imports(file)) {
        const allowed = spec.startsWith('./') || spec.startsWith('../job/') || spec === '../shared/errors.js' || spec === '../shared/hresult.js' || spec === '../shared/hosts.js';
        expect(allowed, `${relative(src, file)} imports ${spec}`).toBe(true);
      }
    }
  });
});
