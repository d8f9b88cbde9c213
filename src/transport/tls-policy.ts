/**
 * TLS settings for one origin, from the job's BG_SSL_* flags, its client certificate and the
 * transport's extra trusted CAs.
 *
 * Node can only switch certificate verification off as a whole (rejectUnauthorized) or replace the
 * host-name check (checkServerIdentity). To skip exactly the checks a job asks to skip:
 * - no IGNORE flag: Node verifies everything (chain, dates, host name).
 * - IGNORE_CERT_CN_INVALID alone: Node verifies the chain and dates; the host-name check is off.
 * - IGNORE_UNKNOWN_CA and/or IGNORE_CERT_DATE_INVALID: Node's rejection is off and `verify` runs
 *   right after the handshake, before any byte of the request is sent, and applies the remaining
 *   checks itself:
 *   - CA (unless IGNORE_UNKNOWN_CA): OpenSSL's verdict when it has nothing to say or reports a
 *     chain problem. When OpenSSL reports only a date problem, the chain is re-checked here by
 *     signatures up to a trusted root, ignoring dates (OpenSSL reports one error per chain, so a
 *     date error may hide a chain error).
 *   - dates (unless IGNORE_CERT_DATE_INVALID): every certificate the server presented must be within
 *     its validity period.
 *   - host name (unless IGNORE_CERT_CN_INVALID): tls.checkServerIdentity.
 * BG_SSL_IGNORE_CERT_WRONG_USAGE and BG_SSL_ENABLE_CRL_CHECK have no effect: Node does not check the
 * server certificate's extended key usage beyond OpenSSL's defaults, and bitsd fetches no CRLs.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import type { ClientCertificate } from '../job/types.js';
import { SECURITY } from '../job/types.js';
import { BitsError } from '../shared/errors.js';
import { certificateError } from './error-mapping.js';

export type PeerVerifier = (socket: tls.TLSSocket, hostname: string) => BitsError | undefined;

/** The subset of tls.ConnectionOptions bitsd sets (exact, so it fits undici's connector options). */
export interface TlsOptions {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
}

export interface TlsPolicy {
  /** Options for the TLS connection to the origin. */
  readonly options: TlsOptions;
  /** Checks run after the handshake, or null when Node's own verification does it all. */
  readonly verify: PeerVerifier | null;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits PEM texts into single certificates. */
export function splitPem(pems: readonly string[]): string[] {
  return pems.flatMap((pem) => pem.match(PEM_CERT) ?? []);
}

const DATE_ONLY_CODES: ReadonlySet<string> = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

function authorizationCode(socket: tls.TLSSocket): string | undefined {
  // Node stores a verify code string here although @types/node declares an Error.
  const value: unknown = socket.authorizationError;
  if (typeof value === 'string') return value;
  if (value instanceof Error) return (value as { code?: string }).code ?? value.message;
  return undefined;
}

function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  return out;
}

function issuedBy(issuer: X509Certificate, subject: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/** Whether the presented chain leads by valid signatures to a trust anchor, whatever the dates. */
function chainTrusted(chain: readonly X509Certificate[], anchors: readonly X509Certificate[]): boolean {
  let current = chain[0];
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    const cur: X509Certificate = current;
    if (anchors.some((a) => a.fingerprint256 === cur.fingerprint256 || issuedBy(a, cur))) return true;
    current = chain.find((c) => c.fingerprint256 !== cur.fingerprint256 && c.ca && issuedBy(c, cur));
  }
  return false;
}

function secureError(code: Parameters<typeof certificateError>[0], message: string): BitsError {
  return certificateError(code, message) ?? new BitsError('ERROR_WINHTTP_SECURE_FAILURE', message, { context: 'GENERAL_TRANSPORT' });
}

function makeVerifier(flags: number, anchors: () => readonly X509Certificate[], now: () => number): PeerVerifier {
  return (socket, hostname) => {
    const chain = presentedChain(socket);
    if ((flags & SECURITY.IGNORE_UNKNOWN_CA) === 0) {
      const code = authorizationCode(socket);
      if (code !== undefined && (!DATE_ONLY_CODES.has(code) || !chainTrusted(chain, anchors()))) {
        return secureError(DATE_ONLY_CODES.has(code) ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : code, `certificate not trusted (${code})`);
      }
    }
    if ((flags & SECURITY.IGNORE_CERT_DATE_INVALID) === 0) {
      const t = now();
      for (const cert of chain) {
        if (t < Date.parse(cert.validFrom) || t > Date.parse(cert.validTo)) {
          return secureError('CERT_HAS_EXPIRED', `certificate "${cert.subject}" is valid from ${cert.validFrom} to ${cert.validTo}`);
        }
      }
    }
    if ((flags & SECURITY.IGNORE_CERT_CN_INVALID) === 0) {
      const problem = tls.checkServerIdentity(hostname, socket.getPeerCertificate());
      if (problem) return secureError('ERR_TLS_CERT_ALTNAME_INVALID', problem.message);
    }
    return undefined;
  };
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new BitsError(code === 'ENOENT' ? 'ERROR_FILE_NOT_FOUND' : 'E_ACCESSDENIED', `Cannot read the client ${what} file ${path}.`, {
      context: 'LOCAL_FILE',
      transient: false,
      cause: err,
    });
  }
}

export interface TlsPolicyInput {
  readonly securityFlags: number;
  readonly clientCertificate: ClientCertificate | null;
  /** Extra trusted CA certificates (PEM), added to Node's roots. */
  readonly extraCa: readonly string[];
  readonly now: () => number;
}

export async function buildTlsPolicy(input: TlsPolicyInput): Promise<TlsPolicy> {
  const extra = splitPem(input.extraCa);
  const ca = extra.length > 0 ? [...tls.rootCertificates, ...extra] : undefined;
  let anchorCache: X509Certificate[] | undefined;
  const anchors = (): readonly X509Certificate[] => {
    anchorCache ??= (ca ?? tls.rootCertificates).map((pem) => new X509Certificate(pem));
    return anchorCache;
  };
  const base: Omit<TlsOptions, 'rejectUnauthorized'> = {};
  if (ca) base.ca = ca;
  if (input.clientCertificate) {
    const { certFile, keyFile } = input.clientCertificate;
    base.cert = await readPem(certFile, 'certificate');
    base.key = keyFile === null ? base.cert : await readPem(keyFile, 'key');
  }
  const flags = input.securityFlags;
  const skipCa = (flags & SECURITY.IGNORE_UNKNOWN_CA) !== 0;
  const skipDate = (flags & SECURITY.IGNORE_CERT_DATE_INVALID) !== 0;
  const skipName = (flags & SECURITY.IGNORE_CERT_CN_INVALID) !== 0;
  const noNameCheck = (): undefined => undefined;
  if (!skipCa && !skipDate) {
    return {
      options: skipName ? { ...base, rejectUnauthorized: true, checkServerIdentity: noNameCheck } : { ...base, rejectUnauthorized: true },
      verify: null,
    };
  }
  return {
    options: { ...base, rejectUnauthorized: false, checkServerIdentity: noNameCheck },
    verify: makeVerifier(flags, anchors, input.now),
  };
}
