/**
 * HTTP status -> BitsError, as one table-like rule shared by every engine that talks HTTP.
 *
 * BG_E_HTTP_ERROR_nnn = 0x80190000 + status (bits-protocol.md §10). Retryability follows the
 * classification BITS documents for server answers (bits-protocol.md §8): 4xx fatal except 408 and
 * 409, 5xx transient except 501 and 505. 429 (Too Many Requests) is newer than that table; it says
 * "come back later" by definition, so bitsd treats it as transient too. Unexpected 3xx (a redirect
 * the caller could not follow, 304, 300) are fatal: retrying the same request gives the same answer.
 * Anything else (1xx, an unexpected 2xx) is transient, as BITS does for "anything else".
 */
import { BitsError } from '../shared/errors.js';
import type { ErrorContext } from '../shared/hresult.js';
import { httpErrorCode } from '../shared/hresult.js';

const TRANSIENT_4XX: ReadonlySet<number> = new Set([408, 409, 429]);
const FATAL_5XX: ReadonlySet<number> = new Set([501, 505]);

/** Whether a later retry of the same request may get a better answer. */
export function isTransientStatus(status: number): boolean {
  if (status >= 400 && status <= 499) return TRANSIENT_4XX.has(status);
  if (status >= 500 && status <= 599) return !FATAL_5XX.has(status);
  if (status >= 300 && status <= 399) return false;
  return true;
}

/**
 * The BitsError for an HTTP status the caller cannot use (default context REMOTE_FILE). `extra`
 * adds facts to its details, such as the wait a Retry-After asked for
 * (src/protocol/retry-after.ts retryAfterDetails).
 */
export function httpStatusError(
  status: number,
  message?: string,
  context: ErrorContext = 'REMOTE_FILE',
  extra: Readonly<Record<string, unknown>> = {},
): BitsError {
  return new BitsError(httpErrorCode(status), message, {
    context,
    transient: isTransientStatus(status),
    details: { ...extra, status },
  });
}
