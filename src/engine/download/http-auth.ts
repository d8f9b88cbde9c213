/**
 * Server authentication for HTTP downloads: Basic (RFC 7617) and Digest (RFC 7616: MD5, MD5-sess,
 * SHA-256, SHA-256-sess; qop "auth" or none (RFC 2069), the -sess variants with qop "auth" only;
 * "auth-int" is not offered, as no HTTP client in common use sends it). Pure apart from the random
 * client nonce.
 *
 * BITS answers a 401 challenge with the job's SERVER credentials of the challenged scheme; NTLM,
 * Negotiate and Passport are not available on Linux, so such challenges go unanswered (the 401 then
 * fails the job, as rejected credentials do on Windows).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Credentials } from '../../job/types.js';
import { basicAuthorization } from '../../protocol/auth.js';

export interface Challenge {
  /** Lower-cased scheme name ("basic", "digest", ...). */
  readonly scheme: string;
  /** Lower-cased parameter names. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a WWW-Authenticate value, which may hold several challenges joined by commas:
 * `Basic realm="a", Digest realm="b", nonce="x", qop="auth,auth-int"`.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  // One class for the separator run: "\s*,?\s*" split a long run of blanks two ways, and a
  // server's 60 KiB of blanks before a stray character took seconds of backtracking.
  const re = /[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null && m[0] !== '') {
    const name = m[1] ?? '';
    const value = m[2];
    const current = out[out.length - 1];
    if (value === undefined) {
      out.push({ scheme: name.toLowerCase(), params: {} });
    } else if (current) {
      current.params[name.toLowerCase()] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    }
    // A token68 credential ("Negotiate abc==") has no "=" separated name: it is skipped by the
    // pattern above, which is fine because bitsd cannot answer those schemes anyway.
  }
  return out;
}

const DIGEST_HASHES: Readonly<Record<string, string>> = {
  md5: 'md5',
  'md5-sess': 'md5',
  'sha-256': 'sha256',
  'sha-256-sess': 'sha256',
};

/**
 * Whether bitsd can answer this Digest challenge. The -sess algorithms need qop=auth: their HA1
 * mixes in the client nonce, and without qop RFC 2617 forbids sending that nonce, so the server
 * could not check the answer.
 */
export function digestSupported(challenge: Challenge): boolean {
  const algorithm = (challenge.params.algorithm ?? 'MD5').toLowerCase();
  const qop = challenge.params.qop;
  const offersAuth = qop !== undefined && qop.split(',').some((q) => q.trim().toLowerCase() === 'auth');
  const qopOk = algorithm.endsWith('-sess') ? offersAuth : qop === undefined || offersAuth;
  return DIGEST_HASHES[algorithm] !== undefined && challenge.params.nonce !== undefined && qopOk;
}

function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

export interface DigestInput {
  readonly challenge: Challenge;
  readonly userName: string;
  readonly password: string;
  readonly method: string;
  /** The request-target, as sent ("/path?query"). */
  readonly uri: string;
  /** Nonce count: 1 for the first request with this nonce, then 2, 3, ... */
  readonly nonceCount: number;
  /** Client nonce; random when omitted (tests pass a fixed one). */
  readonly cnonce?: string;
}

export function digestAuthorization(input: DigestInput): string {
  const p = input.challenge.params;
  const algorithm = p.algorithm ?? 'MD5';
  const hashName = DIGEST_HASHES[algorithm.toLowerCase()] ?? 'md5';
  const h = (text: string): string => createHash(hashName).update(text, 'utf8').digest('hex');
  const realm = p.realm ?? '';
  const nonce = p.nonce ?? '';
  const cnonce = input.cnonce ?? randomBytes(16).toString('hex');
  const nc = input.nonceCount.toString(16).padStart(8, '0');
  const useQop = p.qop !== undefined;
  let ha1 = h(`${input.userName}:${realm}:${input.password}`);
  if (algorithm.toLowerCase().endsWith('-sess')) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  const response = useQop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  const parts = [
    `username=${quote(input.userName)}`,
    `realm=${quote(realm)}`,
    `nonce=${quote(nonce)}`,
    `uri=${quote(input.uri)}`,
    `algorithm=${algorithm}`,
    `response=${quote(response)}`,
  ];
  if (p.opaque !== undefined) parts.push(`opaque=${quote(p.opaque)}`);
  if (useQop) parts.push('qop=auth', `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  return `Digest ${parts.join(', ')}`;
}

/** How a request to one origin is authenticated once a challenge has been answered. */
export type AuthState =
  | { readonly scheme: 'basic'; readonly header: string }
  | { readonly scheme: 'digest'; readonly challenge: Challenge; readonly userName: string; readonly password: string; nonceCount: number };

/** The Authorization header for a request under `state` (Digest counts the nonce use). */
export function authorizationFor(state: AuthState, method: string, uri: string): string {
  if (state.scheme === 'basic') return state.header;
  state.nonceCount += 1;
  return digestAuthorization({ ...state, method, uri, nonceCount: state.nonceCount });
}

/**
 * Picks how to answer a 401: Digest when offered and the job has DIGEST credentials, else Basic
 * when offered and the job has BASIC credentials. Undefined when nothing fits.
 */
export function answerChallenge(wwwAuthenticate: string | undefined, credentials: readonly Credentials[]): AuthState | undefined {
  if (wwwAuthenticate === undefined) return undefined;
  const challenges = parseChallenges(wwwAuthenticate);
  const server = credentials.filter((c) => c.target === 'SERVER');
  const digestCreds = server.find((c) => c.scheme === 'DIGEST');
  const digest = challenges.find((c) => c.scheme === 'digest' && digestSupported(c));
  if (digest && digestCreds) {
    return { scheme: 'digest', challenge: digest, userName: digestCreds.userName ?? '', password: digestCreds.password ?? '', nonceCount: 0 };
  }
  const basic = basicAuthorization(server, 'SERVER');
  if (basic !== null && challenges.some((c) => c.scheme === 'basic')) {
    return { scheme: 'basic', header: basic };
  }
  return undefined;
}
