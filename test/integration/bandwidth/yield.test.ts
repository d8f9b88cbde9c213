/**
 * Yielding on a real, shaped link: a private network namespace whose loopback tbf shapes to
 * 80 Mbit/s (test/fixtures/yield-child.ts runs there, with bits-server in its own process and
 * curl as the other application). Needs root (unshare -n, tc): skipped with a message otherwise.
 * Each figure is the median of three runs of the child: these are real rates on a shared machine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../../../dist/test/fixtures/yield-child.js', import.meta.url));

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (unshare -n, tc)';
  for (const tool of ['unshare', 'tc', 'ip', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return null;
}

const why = missing();
if (why) console.warn(`yield.test.ts skipped: ${why}`);

async function measure(phases: string): Promise<Record<string, number>> {
  const { stdout } = await run('unshare', ['-n', process.execPath, CHILD, phases], { timeout: 90_000 });
  const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
  const solo = figures.solo ?? Number.NaN;
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v / solo]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

describe.skipIf(why !== null)('yielding to other traffic on an 80 Mbit/s link', () => {
  it('a NORMAL job alone uses the link; curl beside it keeps at least 80% of its solo throughput; the job climbs back; FOREGROUND does not yield', async () => {
    const runs: Array<Record<string, number>> = [];
    for (let i = 0; i < 3; i++) runs.push(await measure('normal,foreground'));
    const m = (key: string): number => median(runs.map((r) => r[key] ?? Number.NaN));
    const report = JSON.stringify(runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v.toFixed(2))]))));
    expect(m('normalAlone'), report).toBeGreaterThanOrEqual(0.8);
    expect(m('besideNormal'), report).toBeGreaterThanOrEqual(0.8);
    expect(m('normalAfter'), report).toBeGreaterThanOrEqual(0.8);
    // FOREGROUND competes like any application: the two together fill the link, and bitsd does
    // not throttle its side (TCP decides the split; it is not always even).
    expect(m('besideForeground') + m('foregroundDuringCurl'), report).toBeGreaterThanOrEqual(0.9);
    expect(m('foregroundDuringCurl'), report).toBeGreaterThanOrEqual(0.15);
  }, 300_000);
});
