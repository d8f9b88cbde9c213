import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundCopyManager } from '../../src/index.js';
import { tempDir } from '../helpers/temp.js';

describe('smoke', () => {
  it('copies a file:// job end to end', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src.txt');
    await writeFile(src, 'hello bits');
    const mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data') });
    const job = await mgr.createJob('Test', 'DOWNLOAD');
    await job.addFile(pathToFileURL(src).href, join(dir, 'dst.txt'));
    await job.resume();
    const states = [];
    for await (const ev of job.watch()) states.push(ev.state);
    expect(states.at(-1)).toBe('TRANSFERRED');
    expect(await job.complete()).toBe('S_OK');
    expect(await readFile(join(dir, 'dst.txt'), 'utf8')).toBe('hello bits');
    expect(await job.getState()).toBe('ACKNOWLEDGED');
    await mgr.close();
  });
});
