/**
 * Where packets go and what every request carries: the job's URL (with the BITS-Host-Id swap),
 * its custom headers, Basic credentials and proxy settings.
 */
import type { ConnectOptions } from '../../transport/types.js';
import { basicAuthorization } from '../../protocol/auth.js';
import { parseCustomHeaders } from '../../protocol/headers.js';
import { BitsError } from '../../shared/errors.js';
import type { TransferJob } from '../types.js';
import type { UploadLogger } from './options.js';

export interface JobConnection {
  /** The job's remote URL (credentials and fragment stripped). */
  readonly remote: URL;
  readonly connectOptions: (origin: string) => ConnectOptions;
  /**
   * Custom headers and Authorization when `trusted` (the upload server or its Host-Id delegate);
   * nothing otherwise (a reply URL on another origin): custom headers often carry API keys, so
   * they are bound to the server the job names, as credentials are.
   */
  headers(trusted: boolean): Record<string, string>;
}

/** The upload URL with its host replaced by BITS-Host-Id (port kept unless the id names one). */
export function targetUrl(remote: URL, hostId: string | null): URL {
  const url = new URL(remote.href);
  if (hostId !== null) url.host = hostId;
  return url;
}

export function parseRemote(remoteName: string): URL {
  let url: URL;
  try {
    url = new URL(remoteName);
  } catch {
    throw new BitsError('E_INVALIDARG', `The remote name ${JSON.stringify(remoteName.slice(0, 200))} is not a URL.`, { context: 'REMOTE_FILE', transient: false });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BitsError('E_INVALIDARG', `BITS uploads need an http or https URL, not ${url.protocol}.`, { context: 'REMOTE_FILE', transient: false });
  }
  url.username = '';
  url.password = '';
  url.hash = '';
  return url;
}

export function jobConnection(
  job: TransferJob,
  remote: URL,
  settings: { readonly connectTimeoutMs: number; readonly env: Readonly<Record<string, string | undefined>> | undefined; readonly logger: UploadLogger },
): JobConnection {
  const custom = parseCustomHeaders(job.customHeaders);
  if (custom.rejected.length > 0) {
    // Names only: custom header values can be tokens.
    settings.logger.warn('Custom headers skipped: they would break HTTP framing or override a protocol header.', {
      job: job.id,
      skipped: custom.rejected.map((r) => `${r.name || '(line)'}: ${r.reason}`),
    });
  }
  const authorization = basicAuthorization(job.credentials, 'SERVER');
  const proxyAuthorization = basicAuthorization(job.credentials, 'PROXY');
  // SERVER Basic credentials set through SetCredentials win over a custom Authorization header.
  const own = authorization === null ? { ...custom.headers } : { ...custom.headers, authorization };
  return {
    remote,
    connectOptions: (origin) => ({
      origin,
      proxy: job.proxy,
      proxyAuthorization,
      securityFlags: job.securityFlags,
      clientCertificate: job.clientCertificate,
      connectTimeoutMs: settings.connectTimeoutMs,
      ...(settings.env === undefined ? {} : { env: settings.env }),
    }),
    headers: (trusted) => (trusted ? { ...own } : {}),
  };
}
