/**
 * Alternating runs: every competitor once per round, the order rotated each round, so a slow
 * moment of the machine (or a page cache still warm from the previous run) does not always fall
 * on the same one.
 */
import type { BenchContext } from './context.js';

export type Runner = () => Promise<number>;

/** Runs each competitor `rounds` times; returns the ms of each run, by competitor. */
export async function alternate(
  ctx: BenchContext,
  label: string,
  runners: Readonly<Record<string, Runner>>,
  options: { readonly rounds: number; readonly describe: (ms: number) => string },
): Promise<Record<string, number[]>> {
  const names = Object.keys(runners);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length] as string;
      const ms = await (runners[name] as Runner)();
      out[name]?.push(ms);
      ctx.log(`${label} run ${r + 1}: ${name} ${options.describe(ms)}`);
    }
  }
  return out;
}
