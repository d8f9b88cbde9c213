/**
 * The network going away under a real daemon: bitsd runs in a client network namespace, the
 * reference server in a server namespace, joined by a veth pair (test/helpers/netns.ts). The
 * client's link goes down in the middle of a download and of an upload: within 3 s the job is
 * TRANSIENT_ERROR with BG_E_NETWORK_DISCONNECTED, it counts no error while offline, and within 3 s
 * of the link coming back it transfers again, from its durable offset, to a byte-identical file.
 * The kernel's routes are bitsd's only view here (no system bus). Root only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundCopyJob } from '../../../src/api/types.js';
import type { BitsClient } from '../../../src/ipc/client.js';
import { createNetPair, type NetPair, netnsUnavailable } from '../../helpers/netns.js';
import { tempDir } from '../../helpers/temp.js';
import { type ServerEvent, sleep, startNetDaemon, startNetServer, within } from './harness.js';

const MIB = 1024 * 1024;

const why = netnsUnavailable();
if (why) console.warn(`offline.test.ts skipped: ${why}`);

interface Setup {
  readonly pair: NetPair;
  readonly url: string;
  readonly root: string;
  readonly dir: string;
  readonly events: ServerEvent[];
  readonly client: BitsClient;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

async function setup(): Promise<Setup> {
  const dir = await tempDir('bitsd-offline-');
  const root = join(dir, 'root');
  await mkdir(root);
  const pair = await createNetPair();
  cleanup.push(() => pair.destroy());
  const { url, events } = await startNetServer(pair, root);
  // A cap makes the transfers last long enough to pull the link in the middle; yielding is off
  // (its own tests measure it). No system bus: the kernel's routes are the only view.
  const { daemon, client } = await startNetDaemon(pair, dir, { bandwidth: { yield: false, background: '6 MiB/s' } }, { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}` });
  cleanup.push(async () => void (await daemon.stop()));
  cleanup.push(() => client.close());
  return { pair, url, root, dir, events, client };
}

/** Pulls the link once `moved` bytes went; checks the block and returns the durable offset it kept. */
async function goOfflineMidway(s: Setup, job: BackgroundCopyJob, moved: number): Promise<number> {
  await within('progress before the link goes', 20_000, async () => (await job.getProgress()).bytesTransferred >= moved);
  await s.pair.linkDown();
  await within('TRANSIENT_ERROR after the link went down', 3000, async () => (await job.getState()) === 'TRANSIENT_ERROR');
  expect(await job.getError()).toMatchObject({ code: 'BG_E_NETWORK_DISCONNECTED', context: 'GENERAL_TRANSPORT' });
  expect((await job.getTransferStatus()).waiting?.reason).toBe('OFFLINE');
  const durable = (await job.getProgress()).bytesTransferred;
  // Offline for a while: no errors counted, nothing retried, the offset stays.
  await sleep(2500);
  expect(await job.getState()).toBe('TRANSIENT_ERROR');
  expect(await job.getErrorCount()).toBe(0);
  expect((await job.getProgress()).bytesTransferred).toBe(durable);
  return durable;
}

async function backOnline(s: Setup, job: BackgroundCopyJob): Promise<void> {
  await s.pair.linkUp();
  await within('transferring again after the link came back', 3000, async () => ['CONNECTING', 'TRANSFERRING', 'TRANSFERRED'].includes(await job.getState()));
  await within('TRANSFERRED', 30_000, async () => (await job.getState()) === 'TRANSFERRED');
  expect(await job.getErrorCount()).toBe(0);
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe.skipIf(why !== null)('the network going away and coming back (client and server namespaces)', () => {
  it('a download stops within 3 s, counts no error offline, and resumes from its durable offset to an identical file', async () => {
    const s = await setup();
    const data = randomBytes(40 * MIB);
    await writeFile(join(s.root, 'big.bin'), data);
    const job = await s.client.createJob('offline download', 'DOWNLOAD');
    await job.addFile(`${s.url}/big.bin`, join(s.dir, 'big.bin'));
    await job.resume();
    const durable = await goOfflineMidway(s, job, 12 * MIB);
    expect(durable).toBeGreaterThan(0);
    const before = s.events.length;
    await backOnline(s, job);
    // The first request after the reconnection starts at the durable offset; none starts before it.
    const after = s.events.slice(before).flatMap((e) => (e.request?.method === 'GET' && e.request.range ? [e.request.range] : []));
    expect(after[0]).toMatch(new RegExp(`^bytes=${durable}-`));
    for (const range of after) expect(Number(/^bytes=(\d+)-/.exec(range)?.[1])).toBeGreaterThanOrEqual(durable);
    await job.complete();
    expect(sha(await readFile(join(s.dir, 'big.bin')))).toBe(sha(data));
  }, 90_000);

  it('an upload stops within 3 s, counts no error offline, and sends no fragment again below what the server had acknowledged', async () => {
    const s = await setup();
    const data = randomBytes(30 * MIB);
    await writeFile(join(s.dir, 'up.bin'), data);
    await mkdir(join(s.root, 'up'));
    const job = await s.client.createJob('offline upload', 'UPLOAD');
    await job.addFile(`${s.url}/up/up.bin`, join(s.dir, 'up.bin'));
    await job.resume();
    const durable = await goOfflineMidway(s, job, 8 * MIB);
    const before = s.events.length;
    await backOnline(s, job);
    const fragments = s.events.slice(before).flatMap((e) => (e.packet?.kind === 'fragment' && e.packet.range?.first !== undefined ? [e.packet.range.first] : []));
    expect(fragments.length).toBeGreaterThan(0);
    for (const first of fragments) expect(first).toBeGreaterThanOrEqual(durable);
    await job.complete();
    expect(sha(await readFile(join(s.root, 'up', 'up.bin')))).toBe(sha(data));
  }, 90_000);
});
