/**
 * Figures for the benchmark report: median and spread of repeated runs, and ratios. A spread is
 * (max - min) / median, so "12%" means the runs of a case disagreed by 12% of the median.
 */

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, 0 for a single run. */
  readonly spread: number;
  readonly runs: readonly number[];
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  return { median, min, max, spread: median === 0 ? 0 : (max - min) / median, runs: values };
}

export function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(value: number): string {
  return `${(value * 100).toFixed(0)}%`;
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.POSITIVE_INFINITY : a / b;
}

/** "1,234 MiB/s ±5%": a median with its spread. */
export function withSpread(s: Summary, unit: string, digits = 0): string {
  return `${fmt(s.median, digits)} ${unit} ±${pct(s.spread / 2)}`;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
