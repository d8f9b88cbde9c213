/**
 * Real networks for tests, root only: a client and a server network namespace (`ip netns`)
 * joined by a veth pair. The server end is 10.213.N.1/24 and fd13:213:N::1/64, the client end
 * .2 and ::2, with default routes (IPv4 and IPv6) through the server. Both have loopback up.
 *
 * N is claimed per pair by a file in /run/bitsd-test-netns (created exclusively; a claim whose
 * process is gone is taken over), so pairs of test files running side by side have distinct
 * subnets as well as distinct namespaces (whose names carry the pid and a counter).
 *
 * Everything a pair starts goes with destroy(): every process in either namespace (spawnIn's
 * and any it started), then the namespaces, which takes the veth pair with them. A pair a test
 * forgets is deleted when the process exits (best effort: not after SIGKILL).
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLAIMS = '/run/bitsd-test-netns';
const CLIENT_DEVICE = 'bitsd-c';
const SERVER_DEVICE = 'bitsd-s';

let availability: string | null | undefined;

/** null when this process can make network namespaces; otherwise why not (for the skip message). */
export function netnsUnavailable(): string | null {
  if (availability !== undefined) return availability;
  availability = probe();
  return availability;
}

function probe(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs ip (iproute2)';
  }
  const name = `bitsd-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    return null;
  } catch (error) {
    return `ip netns add fails here: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

export type Side = 'client' | 'server';

export interface NetPair {
  /** Namespace names. */
  readonly client: string;
  readonly server: string;
  readonly clientAddress: string;
  readonly serverAddress: string;
  readonly clientAddress6: string;
  readonly serverAddress6: string;
  /** The veth end in the client namespace. */
  readonly clientDevice: string;
  /** The veth end in the server namespace (taking it down takes the client's carrier away). */
  readonly serverDevice: string;
  /** Starts `command` in a namespace (`ip netns exec`, which also mounts that namespace's sysfs). */
  spawnIn(ns: Side, command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command` in a namespace to its end; rejects when it fails or takes over 30 s. */
  execIn(ns: Side, command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** `ip link set <clientDevice> down` in the client namespace: the kernel drops its routes and IPv6 addresses. */
  linkDown(): Promise<void>;
  /** Up again, with the client's addresses and default routes put back. */
  linkUp(): Promise<void>;
  /** Kills every process in both namespaces and deletes them. Idempotent. */
  destroy(): Promise<void>;
}

let counter = 0;
const live = new Map<string, { children: Set<ChildProcess>; namespaces: string[]; claim: string }>();

/** On exit, whatever a test did not destroy (synchronously: nothing else runs then). */
process.on('exit', () => {
  for (const entry of live.values()) {
    for (const child of entry.children) child.kill('SIGKILL');
    for (const ns of entry.namespaces) {
      killAllInSync(ns);
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
    rmSync(entry.claim, { force: true });
  }
});

export async function createNetPair(): Promise<NetPair> {
  const why = netnsUnavailable();
  if (why !== null) throw new Error(`network namespaces are not available: ${why}`);
  const id = `${process.pid}-${counter++}`;
  const client = `bitsd-${id}-c`;
  const server = `bitsd-${id}-s`;
  const { n, claim } = claimSubnet(counter);
  const entry = { children: new Set<ChildProcess>(), namespaces: [] as string[], claim };
  live.set(id, entry);
  const v4 = (host: number): string => `10.213.${n}.${host}`;
  const v6 = (host: number): string => `fd13:213:${n.toString(16)}::${host}`;
  const ip = async (...args: string[]): Promise<void> => {
    await run('ip', args, { timeout: 10_000 });
  };
  const configureClient = async (): Promise<void> => {
    await ip('-n', client, 'link', 'set', CLIENT_DEVICE, 'up');
    await ip('-n', client, 'addr', 'replace', `${v4(2)}/24`, 'dev', CLIENT_DEVICE);
    await ip('-n', client, 'addr', 'replace', `${v6(2)}/64`, 'dev', CLIENT_DEVICE, 'nodad');
    await ip('-n', client, 'route', 'replace', 'default', 'via', v4(1));
    await ip('-n', client, '-6', 'route', 'replace', 'default', 'via', v6(1));
  };

  let destroyed: Promise<void> | null = null;
  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      for (const child of entry.children) child.kill('SIGKILL');
      for (const ns of [...entry.namespaces].reverse()) {
        await killAllIn(ns);
        await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      }
      rmSync(claim, { force: true });
      live.delete(id);
    })();
    return destroyed;
  };

  try {
    for (const ns of [client, server]) {
      await ip('netns', 'add', ns);
      entry.namespaces.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', client, 'link', 'add', CLIENT_DEVICE, 'type', 'veth', 'peer', 'name', SERVER_DEVICE, 'netns', server);
    await ip('-n', server, 'addr', 'add', `${v4(1)}/24`, 'dev', SERVER_DEVICE);
    await ip('-n', server, 'addr', 'add', `${v6(1)}/64`, 'dev', SERVER_DEVICE, 'nodad');
    await ip('-n', server, 'link', 'set', SERVER_DEVICE, 'up');
    await configureClient();
  } catch (error) {
    await destroy();
    throw error;
  }

  const nameOf = (ns: Side): string => (ns === 'client' ? client : server);
  return {
    client,
    server,
    clientAddress: v4(2),
    serverAddress: v4(1),
    clientAddress6: v6(2),
    serverAddress6: v6(1),
    clientDevice: CLIENT_DEVICE,
    serverDevice: SERVER_DEVICE,
    spawnIn(ns, command, args, options = {}) {
      if (destroyed) throw new Error(`spawnIn after destroy (${client})`);
      const child = spawn('ip', ['netns', 'exec', nameOf(ns), command, ...args], options);
      entry.children.add(child);
      child.once('exit', () => entry.children.delete(child));
      return child;
    },
    async execIn(ns, command, args) {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', nameOf(ns), command, ...args], { timeout: 30_000 });
      return { stdout, stderr };
    },
    linkDown: () => ip('-n', client, 'link', 'set', CLIENT_DEVICE, 'down'),
    linkUp: configureClient,
    destroy,
  };
}

/** SIGKILLs every process in a namespace (they keep it alive after `ip netns del`) and waits for them to go. */
async function killAllIn(ns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    const pids = stdout.split('\n').filter((p) => /^\d+$/.test(p)).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function killAllInSync(ns: string): void {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
    for (const pid of out.split('\n').filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
  } catch {
    // The namespace is gone.
  }
}

/** Claims a free N in 1..254 for this process: /run/bitsd-test-netns/N holds the claimant's pid. */
function claimSubnet(seed: number): { n: number; claim: string } {
  mkdirSync(CLAIMS, { recursive: true });
  const start = (process.pid + seed * 7) % 254;
  for (let i = 0; i < 254; i++) {
    const n = ((start + i) % 254) + 1;
    const claim = join(CLAIMS, String(n));
    try {
      writeFileSync(claim, String(process.pid), { flag: 'wx' });
      return { n, claim };
    } catch {
      if (!claimantAlive(claim)) {
        rmSync(claim, { force: true });
        try {
          writeFileSync(claim, String(process.pid), { flag: 'wx' });
          return { n, claim };
        } catch {
          // Another process took it over first.
        }
      }
    }
  }
  throw new Error(`no free 10.213.N.0/24 subnet: ${CLAIMS} holds 254 live claims`);
}

function claimantAlive(claim: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(claim, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
