/**
 * What to do with an HTTP redirect, from the job's security flags (BG_HTTP_REDIRECT_POLICY_*).
 * Pure.
 *
 * - ALLOW_SILENT (0x000): follow; the file keeps its remote name.
 * - ALLOW_REPORT (0x100): follow; the caller sets the file's remote name to the final URL.
 * - DISALLOW (0x200): the redirect fails the job (fatal BG_E_HTTP_ERROR_<redirect status>, context
 *   REMOTE_FILE): the job owner asked not to be sent elsewhere, and retrying will not change that.
 * - HTTPS -> HTTP is refused unless BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP (0x800), as WinHTTP
 *   does, with ERROR_WINHTTP_REDIRECT_FAILED (fatal).
 * - More than MAX_REDIRECTS hops, a missing/invalid Location, or a scheme other than http(s):
 *   ERROR_WINHTTP_REDIRECT_FAILED (fatal).
 */
import { SECURITY } from '../../job/types.js';
import { BitsError } from '../../shared/errors.js';
import { httpErrorCode } from '../../shared/hresult.js';

export const MAX_REDIRECTS = 10;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

export type RedirectPolicy = 'ALLOW_SILENT' | 'ALLOW_REPORT' | 'DISALLOW';

export function redirectPolicy(securityFlags: number): RedirectPolicy {
  const policy = securityFlags & SECURITY.REDIRECT_POLICY_MASK;
  if (policy === SECURITY.REDIRECT_POLICY_ALLOW_REPORT) return 'ALLOW_REPORT';
  if (policy === SECURITY.REDIRECT_POLICY_ALLOW_SILENT) return 'ALLOW_SILENT';
  // 0x300 and the other undefined values of the mask are treated as the strictest policy.
  return 'DISALLOW';
}

export interface RedirectInput {
  readonly status: number;
  readonly location: string | undefined;
  readonly from: URL;
  /** Redirects already followed for this request. */
  readonly hops: number;
  readonly securityFlags: number;
}

function redirectFailed(message: string, details: Record<string, unknown>): BitsError {
  return new BitsError('ERROR_WINHTTP_REDIRECT_FAILED', message, { context: 'REMOTE_FILE', transient: false, details });
}

/** The URL to follow, or the fatal error that ends the transfer. */
export function followRedirect(input: RedirectInput): URL {
  const { status, location, from } = input;
  if (redirectPolicy(input.securityFlags) === 'DISALLOW') {
    throw new BitsError(httpErrorCode(status), `The server redirected ${from.href} (HTTP ${status}) and the job's security flags disallow redirects.`, {
      context: 'REMOTE_FILE',
      transient: false,
      details: { status, location },
    });
  }
  if (input.hops >= MAX_REDIRECTS) {
    throw redirectFailed(`More than ${MAX_REDIRECTS} redirects from ${from.href}.`, { status });
  }
  if (location === undefined || location.trim() === '') {
    throw redirectFailed(`HTTP ${status} from ${from.href} without a Location header.`, { status });
  }
  let to: URL;
  try {
    to = new URL(location.trim(), from);
  } catch {
    throw redirectFailed(`HTTP ${status} from ${from.href} to an invalid Location.`, { status, location });
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') {
    throw redirectFailed(`Redirect from ${from.href} to a ${to.protocol} URL.`, { status });
  }
  if (from.protocol === 'https:' && to.protocol === 'http:' && (input.securityFlags & SECURITY.ALLOW_HTTPS_TO_HTTP) === 0) {
    throw redirectFailed(`Redirect from HTTPS to HTTP (${to.href}) refused; set BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP to allow it.`, {
      status,
    });
  }
  to.hash = '';
  return to;
}
