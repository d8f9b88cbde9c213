/** bench/RESULTS.md: the machine, the tools, the date, and one table row per figure. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import type { Row } from './context.js';
import { fmt, pct, type Summary } from './stats.js';

export interface RunInfo {
  readonly started: Date;
  readonly minutes: number;
  readonly tools: Readonly<Record<string, string>>;
  readonly tmp: string;
  readonly command: string;
  /** Share of CPU time the hypervisor gave to others during the run (/proc/stat "steal"), or null. */
  readonly stolen: number | null;
}

/** The aggregate "cpu" line of /proc/stat: [total ticks, steal ticks], or null off Linux. */
export function cpuTicks(): [number, number] | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return [total, fields[7] ?? 0];
  } catch {
    return null;
  }
}

function disk(path: string): string {
  try {
    const out = execFileSync('df', ['-h', '--output=source,fstype,size,avail', path], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
    return out.replace(/\s+/g, ' ');
  } catch {
    return 'unknown';
  }
}

function value(v: Summary | number, unit: string): string {
  const digits = unit.startsWith('x ') ? 2 : unit === 'ms' || unit === 'µs' || unit === 'MB' ? 1 : 0;
  if (typeof v === 'number') return `${fmt(v, digits)} ${unit}`;
  return `${fmt(v.median, digits)} ${unit} (${fmt(v.min, digits)}–${fmt(v.max, digits)}, n=${v.runs.length})`;
}

export function machine(tmp: string): string[] {
  const cpu = cpus();
  return [
    `- CPU: ${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Kernel: Linux ${release()}; Node.js ${process.version}`,
    `- Temp files on: ${disk(tmp)}`,
  ];
}

export function renderResults(rows: readonly Row[], info: RunInfo): string {
  const lines = [
    '# Benchmark results',
    '',
    `One run of \`${info.command}\` on ${info.started.toISOString().slice(0, 10)} (${info.started.toISOString()}), ${info.minutes.toFixed(1)} minutes. How to run it: [README.md](../README.md#benchmarks); what each case measures: the comments in [test/bench/](../test/bench/).`,
    '',
    '## Machine',
    '',
    ...machine(info.tmp),
    ...(info.stolen === null ? [] : [`- CPU time stolen by the hypervisor during the run: ${(info.stolen * 100).toFixed(0)}% (/proc/stat steal; figures swing with it)`]),
    ...Object.entries(info.tools).map(([name, version]) => `- ${name}: ${version}`),
    '',
    '## Figures',
    '',
    'Medians of alternating runs, with (min–max, number of runs). Ratios are bitsd / peer within this run.',
    '',
    '| # | case | bitsd | peer | ratio | target | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const peer = r.peer ? `${r.peer.name}: ${value(r.peer.value, r.unit)}` : '—';
    const ratio = r.ratio === undefined ? '—' : r.ratio.toFixed(2);
    const met = r.met === null ? 'reported' : r.met ? 'yes' : '**no**';
    lines.push(`| ${r.id} | ${r.what} | ${value(r.bitsd, r.unit)} | ${peer} | ${ratio} | ${r.target} | ${met} |`);
  }
  const notes = rows.filter((r) => r.note);
  if (notes.length > 0) {
    lines.push('', '## Notes', '');
    for (const r of notes) lines.push(`- ${r.id}: ${r.note}`);
  }
  lines.push('');
  return lines.join('\n');
}

export function printRows(rows: readonly Row[]): void {
  for (const r of rows) {
    const peer = r.peer ? ` vs ${r.peer.name} ${value(r.peer.value, r.unit)}` : '';
    const ratio = r.ratio === undefined ? '' : ` ratio ${r.ratio.toFixed(2)}`;
    const spread = typeof r.bitsd === 'number' ? '' : ` spread ${pct(r.bitsd.spread)}`;
    process.stdout.write(`[${r.id}] ${r.what}: ${value(r.bitsd, r.unit)}${spread}${peer}${ratio} target ${r.target}: ${r.met === null ? 'reported' : r.met ? 'met' : 'NOT MET'}\n`);
  }
}
