/**
 * bitsadmin's job argument: a {GUID} (braces optional) or a display name. Names need not be
 * unique, so a name matching several jobs is a command-line error that lists them; a name
 * matching none is BG_E_NOT_FOUND, as GetJob reports for an unknown GUID.
 */
import type { BackgroundCopyJob, BackgroundCopyManagerApi } from '../api/types.js';
import { BitsError } from '../shared/errors.js';
import { AmbiguousNameError } from './errors.js';
import { isCode } from './snapshot.js';

const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

export async function resolveJob(api: BackgroundCopyManagerApi, nameOrId: string): Promise<BackgroundCopyJob> {
  if (GUID.test(nameOrId)) {
    try {
      return await api.getJob(nameOrId);
    } catch (err) {
      // A display name may itself look like a GUID: fall back to names before giving up.
      if (!isCode(err, 'BG_E_NOT_FOUND')) throw err;
      const byName = await findByName(api, nameOrId);
      if (byName) return byName;
      throw err;
    }
  }
  const job = await findByName(api, nameOrId);
  if (!job) throw new BitsError('BG_E_NOT_FOUND', `No job named '${nameOrId}' in the queue (/list shows the jobs).`);
  return job;
}

/**
 * The one job with this display name among the caller's jobs. An exact match wins; only when
 * there is none does case-insensitive matching apply (bitsadmin users come from Windows, where
 * names are typed without regard to case).
 */
async function findByName(api: BackgroundCopyManagerApi, name: string): Promise<BackgroundCopyJob | null> {
  const jobs = await api.enumJobs();
  const named = await Promise.all(
    jobs.map(async (job) => {
      try {
        return { job, name: await job.getDisplayName() };
      } catch (err) {
        // Completed or cancelled by someone else since the enumeration.
        if (isCode(err, 'BG_E_NOT_FOUND')) return null;
        throw err;
      }
    }),
  );
  const live = named.filter((n): n is { job: BackgroundCopyJob; name: string } => n !== null);
  let matches = live.filter((n) => n.name === name);
  if (matches.length === 0) matches = live.filter((n) => n.name.toLowerCase() === name.toLowerCase());
  if (matches.length > 1) {
    throw new AmbiguousNameError(`The name '${name}' matches ${matches.length} jobs: ${matches.map((m) => m.job.id).join(', ')}; name the job by its GUID.`);
  }
  return matches[0]?.job ?? null;
}
