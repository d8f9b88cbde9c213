/**
 * The network gate through the API, on a FakeClock: offline, metered and on-battery jobs wait
 * blocked (TRANSIENT_ERROR with the blocker's error, no error counted, no retry, no no-progress
 * expiry) and go on by themselves; a blocked job gives up its slot; every waiting job has one
 * reason with its since and until. The network is a scripted NetworkSource here (the real
 * watchers have their own tests in test/network, and the daemon's in test/integration/network).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundCopyManager, FakeClock } from '../../src/index.js';
import type { BackgroundCopyJob } from '../../src/index.js';
import { mergeConfig, PolicyHolder, validateConfig } from '../../src/policy/index.js';
import { NM_METERED, NM_STATE, type NetworkSnapshot, type NetworkSource, type Route } from '../../src/policy/network.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp.js';

const SEC = 1000;
const DAY = 24 * 3600 * SEC;
const LAN: Route[] = [
  { family: 4, iface: 'eth0', destination: '0.0.0.0', prefix: 0, gateway: '10.0.0.1' },
  { family: 4, iface: 'eth0', destination: '10.0.0.0', prefix: 24, gateway: null },
];
const UNRESTRICTED = 0x80000021;
const STANDARD = 0x80000067;

/** A network the test sets; listeners hear each change, as the daemon's monitor tells them. */
class ScriptedNetwork implements NetworkSource {
  #snapshot: NetworkSnapshot = { routes: LAN, manager: { state: NM_STATE.CONNECTED_GLOBAL, connectivity: 4, metered: NM_METERED.NO }, onBattery: false };
  readonly #listeners = new Set<() => void>();
  current(): NetworkSnapshot {
    return this.#snapshot;
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(patch: Partial<NetworkSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...patch };
    for (const l of [...this.#listeners]) l();
  }
  metered(yes: boolean): void {
    this.set({ manager: { state: NM_STATE.CONNECTED_GLOBAL, connectivity: 4, metered: yes ? NM_METERED.YES : NM_METERED.NO } });
  }
}

let dir: string;
let clock: FakeClock;
let engine: ScriptedEngine;
let network: ScriptedNetwork;
let policy: PolicyHolder;
let mgr: BackgroundCopyManager;

beforeEach(async () => {
  dir = await tempDir();
  clock = new FakeClock();
  engine = new ScriptedEngine('http:');
  network = new ScriptedNetwork();
  policy = new PolicyHolder(mergeConfig(validateConfig({ bandwidth: { yield: false } }, 'test')));
  mgr = await BackgroundCopyManager.open({ dataDir: join(dir, 'data'), clock, engines: [engine], random: () => 0, network, policy });
});

afterEach(async () => {
  await mgr.close();
});

async function job(name: string, remote = 'http://10.0.0.7/file', setup?: (j: BackgroundCopyJob) => Promise<void>): Promise<BackgroundCopyJob> {
  const j = await mgr.createJob(name, 'DOWNLOAD');
  await j.addFile(remote, join(dir, name));
  await setup?.(j);
  await j.resume();
  return j;
}

/** Lets setImmediate-scheduled work (the gate's re-check, the scheduler's pass) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(0);
  }
}

describe('offline', () => {
  it('a running job whose route goes stops at once, waits without errors, retries or no-progress expiry, and goes on when the route is back', async () => {
    const j = await job('offline', 'http://10.0.0.7/file', (x) => x.setNoProgressTimeout(3600));
    const first = await engine.waitForAttempts(1);
    first.progress(1000, 5000);
    await clock.advance(5 * SEC);
    network.set({ routes: [] });
    await settle();
    expect(first.aborted).toBe(true);
    expect(await j.getState()).toBe('TRANSIENT_ERROR');
    expect(await j.getError()).toMatchObject({ code: 'BG_E_NETWORK_DISCONNECTED', context: 'GENERAL_TRANSPORT' });
    expect(await j.getErrorCount()).toBe(0);
    const status = await j.getTransferStatus();
    expect(status.waiting).toMatchObject({ reason: 'OFFLINE', since: new Date(clock.now()), until: null });
    // Far past the no-progress timeout and the retry delay: still waiting, nothing tried.
    await clock.advance(2 * DAY);
    await settle();
    expect(await j.getState()).toBe('TRANSIENT_ERROR');
    expect(engine.attempts).toHaveLength(1);
    network.set({ routes: LAN });
    await settle();
    const second = await engine.waitForAttempts(2);
    expect(['CONNECTING', 'TRANSFERRING']).toContain(await j.getState());
    expect(second.ctx.file.bytesTransferred).toBe(1000);
    second.succeed();
    await settle();
    expect(await j.getState()).toBe('TRANSFERRED');
    expect(await j.getErrorCount()).toBe(0);
  });

  it('the blocked time does not count as no progress: a transient failure after it still retries', async () => {
    const j = await job('window', 'http://10.0.0.7/file', async (x) => {
      await x.setNoProgressTimeout(3600);
      await x.setMinimumRetryDelay(2400);
    });
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await settle();
    expect(await j.getState()).toBe('TRANSIENT_ERROR');
    await clock.advance(30 * 60 * SEC);
    network.set({ routes: [] });
    await settle();
    expect((await j.getTransferStatus()).waiting?.reason).toBe('OFFLINE');
    await clock.advance(5 * 3600 * SEC);
    network.set({ routes: LAN });
    await settle();
    // 30 min of the hour's window used before going offline; the 5 h offline do not count.
    (await engine.waitForAttempts(2)).fail('BG_E_HTTP_ERROR_503', true);
    await settle();
    expect(await j.getState()).toBe('TRANSIENT_ERROR');
    expect((await j.getTransferStatus()).waiting).toMatchObject({ reason: 'RETRY_DELAY', attempts: 2, error: { code: 'BG_E_HTTP_ERROR_503' } });
  });

  it('a queued job whose server cannot be reached is blocked at dispatch and the next job takes the slot; loopback and names follow their routes', async () => {
    network.set({ routes: LAN.slice(1) });
    await settle();
    const far = await job('far', 'http://192.0.2.1/file');
    const near = await job('near', 'http://10.0.0.9/file');
    const named = await job('named', 'http://server.example/file');
    const local = await job('local', 'http://127.0.0.1:9/file');
    await settle();
    expect(await far.getState()).toBe('TRANSIENT_ERROR');
    const attempt = await engine.waitForAttempts(1);
    expect(attempt.jobId).toBe(near.id);
    // Queued jobs are looked at when their turn comes (or when the network changes).
    expect((await local.getTransferStatus()).waiting).toMatchObject({ reason: 'BACKGROUND_SLOT', ahead: 1 });
    attempt.succeed();
    await settle();
    expect((await engine.waitForAttempts(2)).jobId).toBe(local.id);
    expect(await named.getState()).toBe('TRANSIENT_ERROR');
    expect((await named.getError()).message).toContain('No network connection reaches server.example');
  });

  it('NetworkManager disconnected: offline whatever the routes say', async () => {
    const j = await job('nm');
    await engine.waitForAttempts(1);
    network.set({ manager: { state: NM_STATE.DISCONNECTED, connectivity: 1, metered: NM_METERED.NO } });
    await settle();
    expect((await j.getError()).code).toBe('BG_E_NETWORK_DISCONNECTED');
  });
});

describe('cost', () => {
  it('Unrestricted waits while the network is metered and goes on when it is not; Standard transfers in both', async () => {
    network.metered(true);
    const strict = await job('strict', 'http://10.0.0.7/a', (x) => x.setProperty('COST_FLAGS', UNRESTRICTED));
    const standard = await job('standard', 'http://10.0.0.7/b', (x) => x.setProperty('COST_FLAGS', STANDARD));
    await settle();
    expect(await strict.getState()).toBe('TRANSIENT_ERROR');
    expect(await strict.getError()).toMatchObject({ code: 'BG_E_BLOCKED_BY_COST_TRANSFER_POLICY' });
    expect((await strict.getError()).message).toContain('PolicyUnrestricted, 0x80000021');
    expect((await strict.getTransferStatus()).waiting?.reason).toBe('COST_POLICY');
    const attempt = await engine.waitForAttempts(1);
    expect(attempt.jobId).toBe(standard.id);
    attempt.succeed();
    network.metered(false);
    await settle();
    expect((await engine.waitForAttempts(2)).jobId).toBe(strict.id);
  });

  it('a change of cost flags takes effect at once, also while transferring', async () => {
    network.metered(true);
    const j = await job('flip');
    const attempt = await engine.waitForAttempts(1);
    await j.setProperty('COST_FLAGS', UNRESTRICTED);
    await settle();
    expect(attempt.aborted).toBe(true);
    expect((await j.getError()).code).toBe('BG_E_BLOCKED_BY_COST_TRANSFER_POLICY');
    await j.setProperty('COST_FLAGS', STANDARD);
    await settle();
    await engine.waitForAttempts(2);
  });

  it('the config: metered "yes" overrides NetworkManager; transferPolicy is the default for a priority until the job sets its own', async () => {
    policy.replace(mergeConfig(validateConfig({ network: { metered: 'yes', transferPolicy: { normal: 'PolicyUnrestricted' } } }, 'test')));
    const j = await job('policy');
    await settle();
    expect(await j.getProperty('COST_FLAGS')).toBe(UNRESTRICTED);
    expect((await j.getError()).code).toBe('BG_E_BLOCKED_BY_COST_TRANSFER_POLICY');
    await j.setPriority('HIGH');
    await settle();
    // HIGH has no default in the config: the job's own flags (NOT_ROAMING) allow a metered network.
    expect(await j.getProperty('COST_FLAGS')).toBe(0x8000007f);
    await engine.waitForAttempts(1);
    await j.setProperty('COST_FLAGS', UNRESTRICTED);
    await j.setPriority('NORMAL');
    policy.replace(mergeConfig(validateConfig({ network: { metered: 'yes', transferPolicy: { normal: 'Always' } } }, 'test')));
    await settle();
    // Set by the application: the config's default no longer applies.
    expect(await j.getProperty('COST_FLAGS')).toBe(UNRESTRICTED);
    expect((await j.getError()).code).toBe('BG_E_BLOCKED_BY_COST_TRANSFER_POLICY');
  });
});

describe('battery', () => {
  it('power.pauseOnBattery holds background jobs on battery, never FOREGROUND', async () => {
    policy.replace(mergeConfig(validateConfig({ power: { pauseOnBattery: true } }, 'test')));
    network.set({ onBattery: true });
    const bg = await job('bg');
    const fg = await job('fg', 'http://10.0.0.7/fg', (x) => x.setPriority('FOREGROUND'));
    await settle();
    expect((await bg.getError()).code).toBe('BG_E_BLOCKED_BY_BATTERY_SAVER');
    expect((await bg.getTransferStatus()).waiting?.reason).toBe('BATTERY');
    expect((await engine.waitForAttempts(1)).jobId).toBe(fg.id);
    network.set({ onBattery: false });
    await settle();
    expect((await engine.waitForAttempts(2)).jobId).toBe(bg.id);
  });
});

describe('why a job waits', () => {
  it('one reason for each state, with since and until', async () => {
    const suspended = await mgr.createJob('s', 'DOWNLOAD');
    expect((await suspended.getTransferStatus()).waiting).toEqual({ reason: 'SUSPENDED', since: null, until: null });
    const failing = await job('retry');
    (await engine.waitForAttempts(1)).fail('BG_E_HTTP_ERROR_503', true);
    await settle();
    expect((await failing.getTransferStatus()).waiting).toMatchObject({
      reason: 'RETRY_DELAY',
      since: new Date(clock.now()),
      until: new Date(clock.now() + 600 * SEC),
      attempts: 1,
      error: { code: 'BG_E_HTTP_ERROR_503' },
    });
    await failing.suspend();
    const queued = [await job('q1'), await job('q2'), await job('q3')];
    await settle();
    expect((await queued[2]?.getTransferStatus())?.waiting).toMatchObject({ reason: 'BACKGROUND_SLOT', ahead: 1 });
    const running = await engine.waitForAttempts(2);
    running.fail('BG_E_INVALID_SERVER_RESPONSE', false);
    await settle();
    expect((await queued[0]?.getTransferStatus())?.waiting).toMatchObject({ reason: 'ERROR', error: { code: 'BG_E_INVALID_SERVER_RESPONSE' } });
    (await engine.waitForAttempts(3)).succeed();
    await settle();
    expect((await queued[1]?.getTransferStatus())?.waiting).toEqual({ reason: 'AWAITING_COMPLETE', since: new Date(clock.now()), until: null });
  });
});
