/**
 * HTTP Basic credentials from the job's BITS credentials (SetCredentials). Pure, shared by the
 * upload and download engines: SERVER-target credentials become Authorization, PROXY-target ones
 * Proxy-Authorization (passed to the transport's ConnectOptions).
 *
 * The upload engine sends Basic credentials pre-emptively on every request. BITS negotiates after
 * a 401, but Basic has nothing to negotiate, and resending a fragment body just to learn the scheme
 * doubles the traffic. Digest needs the server's challenge, so only the download engine answers it,
 * after a 401 (src/engine/download/http-auth.ts, which also answers Basic that way). NTLM,
 * NEGOTIATE and PASSPORT are not implemented: a server that demands them answers 401 and the job
 * fails with BG_E_HTTP_ERROR_401.
 */
import type { AuthTarget, Credentials } from '../job/types.js';

/** The "Basic ..." value for the first usable BASIC credential of `target`, or null when none. */
export function basicAuthorization(credentials: readonly Credentials[], target: AuthTarget): string | null {
  for (const cred of credentials) {
    if (cred.target !== target || cred.scheme !== 'BASIC') continue;
    const header = basicHeaderValue(cred.userName, cred.password);
    if (header !== null) return header;
  }
  return null;
}

/**
 * RFC 7617: base64 of UTF-8 "user:password". A user name containing ':' cannot be represented (the
 * server would split it at the wrong colon), and a missing user name is not a credential: both null.
 */
export function basicHeaderValue(userName: string | null, password: string | null): string | null {
  if (userName === null || userName === '' || userName.includes(':')) return null;
  if (/[\u0000-\u001f\u007f]/.test(userName)) return null;
  const pair = `${userName}:${password ?? ''}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}
