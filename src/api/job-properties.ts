/**
 * IBackgroundCopyJob5::GetProperty/SetProperty rules (bits-api.md (c), Job5 table): which job
 * types and states accept which property, and the column it lives in. Pure: it returns the patch
 * or throws the documented HRESULT.
 */
import { BitsError, invalidArg, notImplemented } from '../shared/errors.js';
import { JOB_PROPERTIES, type JobPropertyName } from '../job/types.js';
import type { JobPatch, JobRecord } from '../job/records.js';
import type { PropertyValue } from './types.js';

/** A GUID with both braces or neither ("{...}" or bare), never one brace alone. */
const CLSID = /^(?:\{[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$/;

export function isPropertyName(name: unknown): name is JobPropertyName {
  return typeof name === 'string' && Object.hasOwn(JOB_PROPERTIES, name);
}

function unknownProperty(name: unknown): BitsError {
  return new BitsError('BG_E_UNKNOWN_PROPERTY_ID', `Unknown job property ${JSON.stringify(name)}; known: ${Object.keys(JOB_PROPERTIES).join(', ')}.`);
}

export function readProperty(job: JobRecord, name: unknown): PropertyValue {
  if (!isPropertyName(name)) throw unknownProperty(name);
  switch (name) {
    case 'COST_FLAGS':
      return job.costFlags;
    case 'NOTIFICATION_CLSID':
      return job.notificationClsid;
    case 'DYNAMIC_CONTENT':
      return job.dynamicContent;
    case 'HIGH_PERFORMANCE':
      return job.highPerformance;
    case 'MAX_DOWNLOAD_SIZE':
      return job.maxDownloadSize ?? 0;
    case 'USE_STORED_CREDENTIALS':
      return job.useStoredCredentials;
    case 'MINIMUM_NOTIFICATION_INTERVAL_MS':
      return job.minNotificationIntervalMs;
    case 'ON_DEMAND_MODE':
      return job.onDemand;
  }
}

function dword(value: PropertyValue, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalidArg(`${what} must be a 32-bit unsigned integer; got ${JSON.stringify(value)}.`);
  }
  return value;
}

function flag(value: PropertyValue, what: string): boolean {
  if (typeof value !== 'boolean') throw invalidArg(`${what} must be true or false; got ${JSON.stringify(value)}.`);
  return value;
}

function downloadOnly(job: JobRecord, name: string): void {
  if (job.type !== 'DOWNLOAD') {
    throw new BitsError('BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY', `${name} applies to DOWNLOAD jobs only; this is an ${job.type} job.`);
  }
}

function beforeFirstResume(job: JobRecord, name: string): void {
  if (job.everResumed) {
    throw new BitsError('BG_E_READ_ONLY_PROPERTY_AFTER_RESUME', `${name} can be set only before the job is first resumed.`);
  }
}

/** What setProperty needs to know of the job's files. */
export interface FilesSummary {
  readonly count: number;
  /** Some file was added with byte ranges (addFileWithRanges). */
  readonly ranged: boolean;
}

export function propertyPatch(job: JobRecord, files: FilesSummary, name: unknown, value: PropertyValue): JobPatch {
  if (!isPropertyName(name)) throw unknownProperty(name);
  switch (name) {
    case 'COST_FLAGS':
      // Set by the application: the config's default for the priority no longer applies.
      return { costFlags: dword(value, name), costFlagsSet: true };
    case 'NOTIFICATION_CLSID': {
      if (value === null) return { notificationClsid: null };
      if (typeof value !== 'string' || !CLSID.test(value)) {
        throw invalidArg(`NOTIFICATION_CLSID must be a GUID string ({xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}) or null; got ${JSON.stringify(value)}.`);
      }
      // GUID_NULL clears it, as on Windows.
      return { notificationClsid: /^\{?0{8}(-0{4}){3}-0{12}\}?$/.test(value) ? null : value };
    }
    case 'DYNAMIC_CONTENT': {
      downloadOnly(job, name);
      beforeFirstResume(job, name);
      const on = flag(value, name);
      if (on && job.httpMethod !== null) {
        throw new BitsError('BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD', 'DYNAMIC_CONTENT cannot be combined with a custom HTTP method.');
      }
      // Dynamic content is fetched whole: the ranges would be dropped without a word.
      if (on && files.ranged) {
        throw new BitsError('E_INVALIDARG', 'DYNAMIC_CONTENT cannot be set on a job with byte-range files (addFileWithRanges): dynamic content is downloaded whole.');
      }
      return { dynamicContent: on };
    }
    case 'HIGH_PERFORMANCE':
      downloadOnly(job, name);
      if (files.count > 0) {
        throw new BitsError('BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE', 'HIGH_PERFORMANCE can be set only before the first file is added.');
      }
      return { highPerformance: flag(value, name) };
    case 'MAX_DOWNLOAD_SIZE': {
      downloadOnly(job, name);
      beforeFirstResume(job, name);
      if (value === 0) throw new BitsError('BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE', 'MAX_DOWNLOAD_SIZE must be greater than zero.');
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw invalidArg(`MAX_DOWNLOAD_SIZE must be a positive byte count; got ${JSON.stringify(value)}.`);
      }
      return { maxDownloadSize: value };
    }
    case 'USE_STORED_CREDENTIALS':
      if (value === 'SERVER') {
        throw new BitsError('BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED', 'Stored credentials can be used for the PROXY target only.');
      }
      if (value !== 'PROXY' && value !== null) throw invalidArg('USE_STORED_CREDENTIALS takes "PROXY" or null.');
      // There is no credential store on Linux: the choice is recorded, and proxies still get the
      // job's own PROXY credentials (README lists this).
      return { useStoredCredentials: value };
    case 'MINIMUM_NOTIFICATION_INTERVAL_MS':
      return { minNotificationIntervalMs: dword(value, name) };
    case 'ON_DEMAND_MODE':
      downloadOnly(job, name);
      if (flag(value, name)) throw notImplemented('ON_DEMAND_MODE (random access, IBackgroundCopyFile6)');
      return { onDemand: false };
  }
}
