/**
 * The kernel's byte counters of this network namespace's interfaces (/proc/net/dev, which, unlike
 * /sys/class/net, follows the namespace of the process that reads it).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface InterfaceBytes {
  readonly name: string;
  readonly rx: number;
  readonly tx: number;
}

/** Parses /proc/net/dev: "  name: rxbytes rxpackets ... (8 rx fields) txbytes ...". */
export function parseNetDev(text: string): InterfaceBytes[] {
  const out: InterfaceBytes[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    const rx = fields[0];
    const tx = fields[8];
    if (rx === undefined || tx === undefined || !Number.isFinite(rx) || !Number.isFinite(tx)) continue;
    out.push({ name: line.slice(0, colon).trim(), rx, tx });
  }
  return out;
}

/** Reads the counters now; null where /proc/net/dev cannot be read (not Linux, no /proc). */
export async function readNetCounters(path = '/proc/net/dev'): Promise<InterfaceBytes[] | null> {
  try {
    return parseNetDev(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Bytes waiting in this process's TCP sockets: received but not read, written but not sent. */
export interface OwnQueues {
  readonly rx: number;
  readonly tx: number;
}

/**
 * Sums rx_queue and tx_queue of the TCP sockets this process holds (/proc/self/fd names their
 * inodes, /proc/net/tcp and tcp6 their queues). A download paced by reading leaves what the
 * kernel already accepted in rx_queue: those bytes crossed the link as bitsd's own traffic.
 */
export async function readOwnQueues(): Promise<OwnQueues | null> {
  try {
    const inodes = new Set<string>();
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1]) inodes.add(m[1]);
    }
    let rx = 0;
    let tx = 0;
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        const queues = f[4];
        const inode = f[9];
        if (!queues || !inode || !inodes.has(inode)) continue;
        const [t, r] = queues.split(':');
        tx += Number.parseInt(t ?? '0', 16) || 0;
        rx += Number.parseInt(r ?? '0', 16) || 0;
      }
    }
    return { rx, tx };
  } catch {
    return null;
  }
}

/** What yielding reads of the link: the interfaces' counters and this process's socket queues. */
export interface LinkProbe {
  interfaces(): Promise<readonly InterfaceBytes[] | null>;
  ownQueues(): Promise<OwnQueues | null>;
}

/** The link as /proc shows it to this process (Linux). */
export const procLinkProbe: LinkProbe = { interfaces: () => readNetCounters(), ownQueues: readOwnQueues };
