/**
 * The E_ACCESSDENIED probe of test/api/validation-more.test.ts, run by
 * test/fixtures/access-denied-child.ts in a child for which permission bits apply (root bypasses
 * them: see test/helpers/unprivileged.ts). It adds a file into `lockedDir` (must fail),
 * then into `openDir` (must work), and reports what the job looked like around the failure.
 */
import { join } from 'node:path';
import { BackgroundCopyManager, BitsError } from '../../src/index.js';

export interface AccessProbeResult {
  readonly uid: number;
  readonly jobId: string;
  readonly error: { readonly code: string; readonly hresult: number; readonly message: string } | null;
  readonly modifiedBefore: number;
  readonly modifiedAfterFailure: number;
  readonly filesAfterFailure: number;
  readonly localNamesAtEnd: readonly string[];
}

export async function probeAccessDenied(dataDir: string, lockedDir: string, openDir: string): Promise<AccessProbeResult> {
  const mgr = await BackgroundCopyManager.open({ dataDir, engines: [] });
  try {
    const job = await mgr.createJob('access', 'DOWNLOAD');
    const modifiedBefore = (await job.getTimes()).modificationTime.getTime();
    let error: AccessProbeResult['error'] = null;
    try {
      await job.addFile('http://h.invalid/a', join(lockedDir, 'out'));
    } catch (err) {
      if (!(err instanceof BitsError)) throw err;
      error = { code: err.code, hresult: err.hresult, message: err.message };
    }
    const modifiedAfterFailure = (await job.getTimes()).modificationTime.getTime();
    const filesAfterFailure = (await job.enumFiles()).length;
    await job.addFile('http://h.invalid/b', join(openDir, 'out'));
    const localNamesAtEnd = await Promise.all((await job.enumFiles()).map((f) => f.getLocalName()));
    return { uid: process.getuid?.() ?? -1, jobId: job.id, error, modifiedBefore, modifiedAfterFailure, filesAfterFailure, localNamesAtEnd };
  } finally {
    await mgr.close();
  }
}
