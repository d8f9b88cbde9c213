/**
 * watchKernelRoutes on a real network: a child (test/fixtures/kernel-routes-child.ts) in the
 * client namespace of a veth pair prints every set of routes it sees. Taking the client's link
 * down, or the server's end (the client's carrier goes), removes the routes through the veth
 * within 2 s, and the server becomes unreachable by policy/network.ts's reachable(); up again,
 * they are back within 2 s. Root only: skipped with a message otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { online, reachable, type NetworkSnapshot, type Route } from '../../src/policy/network.js';
import { createNetPair, netnsUnavailable, type NetPair } from '../helpers/netns.js';
import { waitFor } from '../helpers/temp.js';

const why = netnsUnavailable();
if (why !== null) console.warn(`kernel-routes.test.ts skipped: ${why}`);

const CHILD = fileURLToPath(new URL('../../dist/test/fixtures/kernel-routes-child.js', import.meta.url));

interface Seen {
  readonly linkState: string;
  readonly routes: Route[];
  /** When the line arrived (performance.now()). */
  readonly at: number;
}

/** Collects the child's JSON lines. */
class Watcher {
  readonly seen: Seen[] = [];
  readonly #child: ChildProcess;
  #stderr = '';

  constructor(child: ChildProcess) {
    this.#child = child;
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        this.seen.push({ ...(JSON.parse(buffer.slice(0, nl)) as Omit<Seen, 'at'>), at: performance.now() });
        buffer = buffer.slice(nl + 1);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
  }

  /** The first set, seen at or after `since`, that satisfies `test`. */
  async next(since: number, test: (s: Seen) => boolean, what: string): Promise<Seen> {
    return waitFor(() => this.seen.find((s) => s.at >= since && test(s)), 5000, `${what} (stderr: ${this.#stderr})`);
  }

  stop(): void {
    this.#child.stdin?.end();
  }
}

const snapshot = (routes: readonly Route[]): NetworkSnapshot => ({ routes, manager: null, onBattery: null });

const pairs: NetPair[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.destroy();
});

/** The routes through the veth a pair's client starts with: IPv4 and IPv6 defaults and both prefixes. */
function throughVeth(p: NetPair, routes: readonly Route[]): string[] {
  return routes
    .filter((r) => r.iface === p.clientDevice)
    .map((r) => `${r.destination}/${r.prefix}${r.gateway === null ? '' : ` via ${r.gateway}`}`)
    .sort();
}

function expectUp(p: NetPair, seen: Seen): void {
  const prefix = p.serverAddress.replace(/\.1$/, '.0');
  const prefix6 = p.serverAddress6.replace(/::1$/, '::');
  expect(throughVeth(p, seen.routes)).toEqual(expect.arrayContaining([`0.0.0.0/0 via ${p.serverAddress}`, `${prefix}/24`, `::/0 via ${p.serverAddress6}`, `${prefix6}/64`]));
  expect(reachable(snapshot(seen.routes), p.serverAddress)).toBe(true);
  expect(reachable(snapshot(seen.routes), p.serverAddress6)).toBe(true);
  expect(online(snapshot(seen.routes))).toBe(true);
}

function expectDown(p: NetPair, seen: Seen): void {
  expect(throughVeth(p, seen.routes)).toEqual([]);
  expect(reachable(snapshot(seen.routes), p.serverAddress)).toBe(false);
  expect(reachable(snapshot(seen.routes), p.serverAddress6)).toBe(false);
  expect(online(snapshot(seen.routes))).toBe(false);
  expect(reachable(snapshot(seen.routes), '127.0.0.1')).toBe(true);
}

const hasVeth = (p: NetPair) => (s: Seen): boolean => throughVeth(p, s.routes).some((r) => r.startsWith('0.0.0.0/0')) && throughVeth(p, s.routes).some((r) => r.startsWith('::/0'));
const noVeth = (p: NetPair) => (s: Seen): boolean => throughVeth(p, s.routes).length === 0;

/** Down with `down`, up with `up`: each seen within 2 s. */
async function downAndUp(p: NetPair, watcher: Watcher, down: () => Promise<unknown>, up: () => Promise<unknown>): Promise<void> {
  const first = await watcher.next(0, () => true, 'the first set of routes');
  expectUp(p, first);

  const wentDown = performance.now();
  await down();
  const gone = await watcher.next(wentDown, noVeth(p), 'the routes through the veth to go');
  expect(gone.at - wentDown).toBeLessThan(2000);
  expectDown(p, gone);

  const cameUp = performance.now();
  await up();
  const back = await watcher.next(cameUp, hasVeth(p), 'the routes through the veth to come back');
  expect(back.at - cameUp).toBeLessThan(2000);
  expectUp(p, back);
}

describe.skipIf(why !== null)('the kernel routes watcher in a network namespace', () => {
  it('sees the client link go down and come back within 2 s each way (ip netns exec: its own sysfs)', async () => {
    const p = await createNetPair();
    pairs.push(p);
    const watcher = new Watcher(p.spawnIn('client', process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await downAndUp(p, watcher, () => p.linkDown(), () => p.linkUp());
      expect(watcher.seen[0]?.linkState).toBe('sysfs');
      // Only changes are printed: one set at the start, then one per change at most per second.
      expect(watcher.seen.length).toBeLessThanOrEqual(5);
    } finally {
      watcher.stop();
    }
  });

  it("sees the carrier go when the server's end goes down (the routes stay in /proc; sysfs tells)", async () => {
    const p = await createNetPair();
    pairs.push(p);
    const watcher = new Watcher(p.spawnIn('client', process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await downAndUp(
        p,
        watcher,
        async () => {
          await p.execIn('server', 'ip', ['link', 'set', p.serverDevice, 'down']);
          // The kernel keeps the client's routes: the watcher must read the carrier.
          expect((await p.execIn('client', 'ip', ['route'])).stdout).toContain('default');
        },
        () => p.execIn('server', 'ip', ['link', 'set', p.serverDevice, 'up']),
      );
    } finally {
      watcher.stop();
    }
  });

  it("works from the routes alone where sysfs is another namespace's (nsenter --net keeps the host's /sys)", async () => {
    const p = await createNetPair();
    pairs.push(p);
    // Killed by destroy() with everything else in the namespace if the test fails first.
    const watcher = new Watcher(spawn('nsenter', [`--net=/run/netns/${p.client}`, process.execPath, CHILD], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await downAndUp(p, watcher, () => p.linkDown(), () => p.linkUp());
      expect(watcher.seen[0]?.linkState).toBe('routes');
    } finally {
      watcher.stop();
    }
  });
});
