/**
 * Maps what undici and Node's net/tls layers throw to BitsError, so no engine ever sees an undici
 * error. Network failures are transient (context GENERAL_TRANSPORT, WinHTTP codes as Windows BITS
 * records them); certificate failures are fatal (a retry meets the same certificate).
 *
 * Callers match on `code` strings (undici's stable UND_ERR_* codes, Node's errno and OpenSSL verify
 * codes), never on classes. The one exception is the proxy status, which undici only reports in a
 * message ("Proxy response (407) !== 200 ..."): it is the only place the status is available.
 */
import { BitsError } from '../shared/errors.js';
import type { HresultCode } from '../shared/hresult.js';
import { headTooLarge, MAX_RESPONSE_HEAD_BYTES } from './head-limit.js';
import { httpStatusError } from './http-status.js';

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'HPE_INVALID_CHUNK_SIZE',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const CONNECT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const RESOLVE_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA']);

/** OpenSSL verify codes (Node's `err.code`) by the WinHTTP secure-failure they correspond to. */
const CERT_DATE_CODES: ReadonlySet<string> = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);
const CERT_NAME_CODES: ReadonlySet<string> = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'IP_ADDRESS_MISMATCH']);
const CERT_CA_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The error to throw after `signal` aborted: its reason when that is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The operation was aborted.', 'AbortError');
}

/** The certificate BitsError for an OpenSSL/Node verify code, or undefined if it is not one. */
export function certificateError(code: string, message: string): BitsError | undefined {
  let hresult: HresultCode | undefined;
  if (CERT_DATE_CODES.has(code)) hresult = 'ERROR_WINHTTP_SECURE_CERT_DATE_INVALID';
  else if (CERT_NAME_CODES.has(code)) hresult = 'ERROR_WINHTTP_SECURE_CERT_CN_INVALID';
  else if (CERT_CA_CODES.has(code)) hresult = 'ERROR_WINHTTP_SECURE_INVALID_CA';
  else if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
    hresult = 'ERROR_WINHTTP_SECURE_FAILURE';
  }
  if (hresult === undefined) return undefined;
  return new BitsError(hresult, `TLS: ${message}`, { context: 'GENERAL_TRANSPORT', transient: false, details: { code } });
}

function transient(code: HresultCode, err: Error, details: Record<string, unknown>): BitsError {
  return new BitsError(code, `${err.message}`, { context: 'GENERAL_TRANSPORT', transient: true, cause: err, details });
}

/**
 * The BitsError for a transport failure. After `signal` aborted, returns the abort reason instead
 * (the runner ignores errors after an abort, and must not record a transport error for them).
 * Errors that are not transport failures (programming errors) come back unchanged.
 */
export function mapTransportError(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return abortReason(signal);
  if (err instanceof BitsError || isAbortError(err)) return err;
  if (!(err instanceof Error)) return err;
  // A nested cause carries the real socket error for some undici wrappers (e.g. a TLS failure
  // reported through a proxy tunnel): classify by the innermost known code.
  const cause = (err as { cause?: unknown }).cause;
  const code = errorCode(err) ?? '';
  const causeCode = errorCode(cause) ?? '';
  const details = { code: code || causeCode };

  const proxyStatus = /Proxy (?:response \((\d{3})\)|Authentication Required \((\d{3})\))/.exec(err.message);
  if (proxyStatus) {
    const status = Number(proxyStatus[1] ?? proxyStatus[2]);
    return httpStatusError(status, `The proxy answered HTTP ${status}.`, 'GENERAL_TRANSPORT');
  }
  for (const c of [code, causeCode]) {
    const cert = certificateError(c, err.message);
    if (cert) return cert;
  }
  for (const c of [code, causeCode]) {
    if (CONNECT_CODES.has(c)) return transient('ERROR_WINHTTP_CANNOT_CONNECT', err, details);
    if (RESOLVE_CODES.has(c)) return transient('ERROR_WINHTTP_NAME_NOT_RESOLVED', err, details);
    if (TIMEOUT_CODES.has(c)) return transient('ERROR_WINHTTP_TIMEOUT', err, details);
    if (CONNECTION_CODES.has(c)) return transient('ERROR_WINHTTP_CONNECTION_ERROR', err, details);
  }
  if (code === 'UND_ERR_ABORTED') {
    // Aborted without our signal: the connection was torn down under the request.
    return transient('ERROR_WINHTTP_CONNECTION_ERROR', err, details);
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_URL') {
    return new BitsError('E_INVALIDARG', `Invalid HTTP request: ${err.message}`, {
      context: 'GENERAL_TRANSPORT',
      transient: false,
      cause: err,
      details,
    });
  }
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return headTooLarge(MAX_RESPONSE_HEAD_BYTES, null, err);
  // undici's HTTPParserError has no code when llhttp's error has no name it knows (a garbage or
  // negative Content-Length, a status line that is not HTTP): its name is the stable part.
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || err.name === 'HTTPParserError') {
    return new BitsError('ERROR_WINHTTP_INVALID_SERVER_RESPONSE', `The server's answer is not valid HTTP/1.1: ${err.message}`, {
      context: 'GENERAL_TRANSPORT',
      transient: true,
      cause: err,
      details,
    });
  }
  // Any other errno from the socket layer is a network condition that may pass.
  if (/^E[A-Z]+$/.test(code)) return transient('ERROR_WINHTTP_CONNECTION_ERROR', err, details);
  return err;
}
