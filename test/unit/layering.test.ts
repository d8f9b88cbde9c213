/**
 * The layering rules of the codebase, checked on the import statements of src/:
 * - better-sqlite3 is imported only by src/store, undici only by src/transport;
 * - src/job (state machine, validation, vocabulary) is pure: no node: modules, no I/O packages;
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

describe('layering', () => {
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
});
