/**
 * BitsErrors of the upload engine: from Ack outcomes (the server's HRESULT kept by value, even
 * when bitsd has no name for it), from local file failures, and from transport failures.
 */
import { BitsError, type BitsErrorOptions } from '../../shared/errors.js';
import { codeOf, describeHresult, type ErrorContext, formatHresult } from '../../shared/hresult.js';
import type { AckFailure } from '../../protocol/ack.js';
import type { AckError, AckOutcome } from '../../protocol/outcomes.js';
import { retryAfterDetails, retryAfterFor } from '../../protocol/retry-after.js';

/** The BitsError for a non-success Ack. */
export function ackBitsError(error: AckError, transient: boolean, details: Readonly<Record<string, unknown>> = {}): BitsError {
  const message = `${error.message} ${describeHresult(error.hresult)}`;
  const options: BitsErrorOptions = {
    context: error.context,
    transient,
    details: { status: error.status, serverCode: error.serverCode, ...details },
  };
  // The server's HRESULT is kept by value even when bitsd has no name for it (code E_FAIL then):
  // GetError must return what the server said, e.g. ERROR_NOT_ENOUGH_QUOTA from an IIS application.
  return new BitsError(codeOf(error.hresult) ?? 'E_FAIL', message, { ...options, hresult: error.hresult });
}

/**
 * The BitsError for an Ack outcome that ends the attempt. A transient one carries the wait a 503
 * or 429 asked for (Retry-After, read at `now`) in its details, which the queue honours when it
 * arms the retry. The channel's in-exchange resends (p-retry, channel.ts) never see such an
 * answer: they follow connection failures only, so no resend can ignore a Retry-After.
 */
export function outcomeError(outcome: AckOutcome, now: number): BitsError {
  if (outcome.error === null) return invalidResponse(`Unexpected ${outcome.row} outcome.`);
  const transient = outcome.action === 'transient';
  const retryAfterMs = transient ? retryAfterFor(outcome.status, outcome.error.retryAfter, now) : null;
  return ackBitsError(outcome.error, transient, { row: outcome.row, ...retryAfterDetails(retryAfterMs) });
}

/** BG_E_INVALID_SERVER_RESPONSE: the server broke the protocol. Fatal: it will do it again. */
export function invalidResponse(message: string, details: Readonly<Record<string, unknown>> = {}): BitsError {
  return new BitsError('BG_E_INVALID_SERVER_RESPONSE', message, { context: 'REMOTE_FILE', transient: false, details });
}

export function ackReadError(failure: AckFailure, packet: string): BitsError {
  return invalidResponse(`Invalid ${packet} Ack: ${failure.detail}`, { reason: failure.reason });
}

/** Maps a Node fs error on the local upload file to a fatal LOCAL_FILE BitsError. */
export function localFileError(err: unknown, path: string): BitsError {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const options = (transient: boolean): BitsErrorOptions => ({ context: 'LOCAL_FILE' as ErrorContext, transient, cause: err, details: { path, code } });
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new BitsError('ERROR_FILE_NOT_FOUND', `The local file ${path} no longer exists.`, options(false));
    case 'EACCES':
    case 'EPERM':
    case 'EISDIR':
      return new BitsError('E_ACCESSDENIED', `The local file ${path} cannot be read (${String(code)}).`, options(false));
    case 'EMFILE':
    case 'ENFILE':
      // The process ran out of descriptors: another attempt later may find some free.
      return new BitsError('ERROR_TOO_MANY_OPEN_FILES', `Cannot open ${path}: too many open files.`, options(true));
    default:
      return new BitsError('E_FAIL', `Cannot read the local file ${path}: ${err instanceof Error ? err.message : String(err)}`, options(false));
  }
}

export function localFileChanged(path: string, details: Readonly<Record<string, unknown>>): BitsError {
  return new BitsError('BG_E_LOCAL_FILE_CHANGED', `The local file ${path} changed (size or modification time) during the upload; the upload cannot continue.`, {
    context: 'LOCAL_FILE',
    transient: false,
    details,
  });
}

/**
 * A transport failure as a BitsError. The undici transport already maps its errors (transient,
 * GENERAL_TRANSPORT); anything else that escapes a request is treated as a dropped connection.
 */
export function transportError(err: unknown): BitsError {
  if (err instanceof BitsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BitsError('ERROR_WINHTTP_CONNECTION_ERROR', `The connection to the server failed: ${message}`, {
    context: 'GENERAL_TRANSPORT',
    transient: true,
    cause: err,
  });
}

/** What the runner sees after ctx.signal aborted: transient, so nothing is recorded as fatal. */
export function abortedError(signal: AbortSignal): BitsError {
  return new BitsError('E_ABORT', 'The transfer was stopped.', { transient: true, cause: signal.reason });
}

export function describeError(err: unknown): string {
  if (err instanceof BitsError) return `${formatHresult(err.hresult)} ${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
