/**
 * Crash seams: named points between the steps of a multi-step effect (Complete's renames,
 * Cancel's deletions, a Cancel-Session's answer) where a test can stop the process dead, as a
 * power cut or kill -9 would, and then check what start-up makes of it.
 *
 * Production code calls `seam(name)` at each boundary; the seam passed in is `noCrashSeams`
 * unless the process was started with BITSD_TEST_CRASH_AT (the daemon reads it; see
 * crashSeamFromEnv). Its value is a seam name, optionally `@N` for the N-th time that seam is
 * reached (default the first): `complete:renamed@2` kills the process after the second rename.
 */
export type CrashSeam = (name: string) => void;

export const noCrashSeams: CrashSeam = () => undefined;

/** The seams a test asked for in `env`, each killing this process with SIGKILL when reached. */
export function crashSeamFromEnv(env: NodeJS.ProcessEnv, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): CrashSeam {
  const spec = env.BITSD_TEST_CRASH_AT;
  if (!spec) return noCrashSeams;
  const m = /^([a-z:-]+)(?:@(\d+))?$/.exec(spec);
  if (!m || m[1] === undefined) throw new Error(`BITSD_TEST_CRASH_AT=${spec}: expected a seam name, optionally @N.`);
  const name = m[1];
  const nth = m[2] === undefined ? 1 : Number(m[2]);
  let reached = 0;
  return (seam) => {
    if (seam === name && ++reached === nth) kill();
  };
}
