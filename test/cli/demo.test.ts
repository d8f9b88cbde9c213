/**
 * `npm run demo` as a test: real bitsd, bits-server and bitsadmin processes on loopback carry one
 * upload, one upload-reply and one download end to end through the CLI (issue 5's "a full upload and
 * download through the CLI"). Runs the compiled demo (dist/, built by `npm test` before vitest).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/src/demo/demo.js');

describe('npm run demo', () => {
  it('uploads, uploads with a reply and downloads through bitsadmin and bitsd, byte-identical', async () => {
    expect(existsSync(demo), 'build first: npx tsc -p tsconfig.json').toBe(true);
    const { stdout } = await run(process.execPath, [demo], { timeout: 60_000 });
    expect(stdout).toMatch(/server copy \w+ = local \w+: identical/);
    expect(stdout).toMatch(/\d+ byte\(s\) of reply data/);
    expect(stdout).toMatch(/downloaded \w+ = served \w+: identical/);
    expect(stdout.match(/STATE: TRANSFERRED/g)).toHaveLength(3);
    expect(stdout.match(/Job completed\./g)).toHaveLength(3);
    expect(stdout).toMatch(/== done/);
  }, 90_000);
});
