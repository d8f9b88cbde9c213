/**
 * IBackgroundCopyJob::GetError: the job's error object, which exists only in ERROR and
 * TRANSIENT_ERROR, with the file it concerns and the descriptions of its HRESULT and context.
 */
import { BitsError } from '../shared/errors.js';
import { describeContext, describeHresult, type ErrorContext } from '../shared/hresult.js';
import type { FileRecord, JobRecord } from '../job/records.js';
import type { JobError } from './types.js';

export function errorOf(job: JobRecord, file: FileRecord | undefined): JobError {
  if ((job.state !== 'ERROR' && job.state !== 'TRANSIENT_ERROR') || job.errorHresult === null) {
    throw new BitsError('BG_E_ERROR_INFORMATION_UNAVAILABLE', `The job is ${job.state}: error information exists only in ERROR or TRANSIENT_ERROR.`);
  }
  const context = (job.errorContext ?? 'UNKNOWN') as ErrorContext;
  let protocol: string | null = null;
  if (file) {
    try {
      protocol = new URL(file.remoteName).protocol.slice(0, -1);
    } catch {
      protocol = null;
    }
  }
  return {
    hresult: job.errorHresult,
    code: job.errorCode ?? '',
    context,
    file: file ? { remoteName: file.remoteName, localName: file.localName } : null,
    description: describeHresult(job.errorHresult),
    contextDescription: describeContext(context),
    protocol,
    message: job.errorMessage ?? '',
  };
}
