/**
 * The boot id recorded with download progress (src/shared/boot-id.ts): the kernel's, read once;
 * without procfs, a random id per process (every restart then counts as a reboot: safe); the
 * daemon's test hook BITSD_TEST_BOOT_ID.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootIdFromEnv, PROC_BOOT_ID, readBootId, systemBootId } from '../../../src/shared/boot-id.js';
import { tempDir } from '../../helpers/temp.js';

describe('boot id', () => {
  it("is the kernel's /proc/sys/kernel/random/boot_id, the same on every call", () => {
    const kernel = readFileSync(PROC_BOOT_ID, 'utf8').trim();
    expect(kernel).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(systemBootId()).toBe(kernel);
    expect(systemBootId()).toBe(systemBootId());
  });

  it('without the file (no procfs): a random id of this process, stable within it, never a fixed value', async () => {
    const dir = await tempDir();
    const missing = readBootId(join(dir, 'boot_id'));
    expect(missing).toMatch(/^process:[0-9a-f-]{36}$/);
    expect(missing).not.toBe(readBootId());
    expect(readBootId(join(dir, 'other'))).toBe(missing);
    // Garbage in the file counts as unreadable.
    await writeFile(join(dir, 'garbage'), 'not a uuid\n');
    expect(readBootId(join(dir, 'garbage'))).toBe(missing);
  });

  it('BITSD_TEST_BOOT_ID, when set, is the boot id; otherwise the kernel one', () => {
    expect(bootIdFromEnv({ BITSD_TEST_BOOT_ID: 'boot-a' })()).toBe('boot-a');
    expect(bootIdFromEnv({})()).toBe(systemBootId());
    expect(bootIdFromEnv({ BITSD_TEST_BOOT_ID: '' })()).toBe(systemBootId());
  });
});
