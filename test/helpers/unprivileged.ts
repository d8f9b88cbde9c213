/**
 * Root bypasses permission bits (CAP_DAC_OVERRIDE), and these tests run as root here and in CI.
 * A test of a refusal that rests on them runs its child without that bypass: as root, through
 * setpriv with DAC_OVERRIDE and DAC_READ_SEARCH dropped from the child's bounding set, so the
 * kernel checks the mode bits for it like for anyone (it stays uid 0, and so still reads the
 * checkout wherever it was cloned, a 0700 temp directory included, which another uid could not);
 * as any other user, as itself. Directories the child must not write are made 0555: the owner's
 * bits apply to root now too.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export function spawnUnprivileged(script: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  const node = [process.execPath, script, ...args];
  const [command, ...rest] = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', ...node] : node;
  return spawn(command as string, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
}
