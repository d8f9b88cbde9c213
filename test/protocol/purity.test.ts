/** src/protocol is pure: it imports nothing but itself and src/shared, src/job vocabulary. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../src/protocol/', import.meta.url).pathname;

describe('src/protocol purity', () => {
  it('has no I/O imports', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8');
      const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? '');
      for (const s of specifiers) {
        expect(s.startsWith('./') || s.startsWith('../shared/') || s === '../job/types.js', `${f} imports ${s}`).toBe(true);
      }
    }
  });
});
