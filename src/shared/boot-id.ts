/**
 * The boot this process runs in. Download progress is recorded with it, so that start-up can
 * tell a restart of bitsd in the same boot (the page cache survived: bytes whose write() returned
 * are in the file) from a reboot or power loss (only bytes an fdatasync covered are). See
 * docs/download-engine.md, "Durability".
 *
 * Linux draws a random UUID at every boot and shows it in /proc/sys/kernel/random/boot_id (in
 * containers too: it is the host's). Without it (no procfs mounted), bitsd falls back to a
 * random id per process: every restart then counts as a reboot, which is safe (downloads resume
 * from their synced offsets) but re-downloads up to one flush interval per file. A fixed
 * fallback would be unsafe: a real reboot would then look like a restart.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const PROC_BOOT_ID = '/proc/sys/kernel/random/boot_id';

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** This process's stand-in when the kernel's id cannot be read; drawn once. */
let processId: string | null = null;

/** The boot id in `path` (the kernel's file), or this process's random stand-in when it cannot be read. */
export function readBootId(path: string = PROC_BOOT_ID): string {
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (BOOT_ID.test(id)) return id;
  } catch {
    // No procfs (or no such file): fall through to the per-process id.
  }
  processId ??= `process:${randomUUID()}`;
  return processId;
}

let cached: string | null = null;

/** The boot id of this machine, read once per process (the default of ManagerOptions.bootId). */
export function systemBootId(): string {
  cached ??= readBootId();
  return cached;
}

/**
 * Test hook, read by the bitsd binary only: BITSD_TEST_BOOT_ID, when set, is the boot id the
 * daemon records and compares with, so a test can "reboot" the machine between two starts
 * (docs/daemon.md). Otherwise systemBootId.
 */
export function bootIdFromEnv(env: NodeJS.ProcessEnv): () => string {
  const forced = env.BITSD_TEST_BOOT_ID;
  return forced ? () => forced : systemBootId;
}
