/**
 * Uploads under a bandwidth limit are paced fragment by fragment: a fragment is sized to half a
 * second of the job's limit (so the average stays smooth and a change of limit shows within the
 * next fragment), and its bytes are acquired from the job's pacer before it is sent.
 */
import type { ByteRange } from '../../protocol/ranges.js';
import { type TransferContext, UNPACED } from '../types.js';

/** The fragment size to plan with: `size`, or less under a limit (never below `min`). */
export function pacedFragmentSize(size: number, ctx: Pick<TransferContext, 'pacer'>, min: number): number {
  const limit = (ctx.pacer ?? UNPACED).limit();
  if (limit === null || limit <= 0) return size;
  return Math.min(size, Math.max(min, Math.floor(limit / 2)));
}

/** Waits until the fragment's bytes may go (at once when nothing limits the job). */
export async function acquireFragment(ctx: Pick<TransferContext, 'pacer' | 'signal'>, range: ByteRange): Promise<void> {
  const wait = (ctx.pacer ?? UNPACED).acquire(Math.max(0, range.last - range.first + 1), ctx.signal);
  if (wait) await wait;
}
