/**
 * BitsError: the one error type of bitsd. It carries the HRESULT (number), its symbolic code,
 * the BG_ERROR_CONTEXT name and a message that says what to fix. The same three fields travel
 * over IPC and become the CLI's exit status, so callers match on `code`, never on `instanceof`
 * or message text.
 */
import {
  codeOf,
  describeHresult,
  ERROR_CONTEXTS,
  type ErrorContext,
  formatHresult,
  type HresultCode,
  hresultOf,
} from './hresult.js';

export interface BitsErrorOptions {
  readonly context?: ErrorContext;
  /**
   * The numeric HRESULT when bitsd has no name for it (a server's or a peer's value): `code` is then
   * E_FAIL for callers matching on names, and `hresult` keeps the value as sent.
   */
  readonly hresult?: number;
  readonly cause?: unknown;
  /**
   * For transfer failures: true when trying again later may succeed (the job goes to
   * TRANSIENT_ERROR), false when it cannot (ERROR). Ignored for API call failures.
   */
  readonly transient?: boolean;
  /** Extra facts for logs and IPC (never secrets). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class BitsError extends Error {
  override readonly name = 'BitsError';
  readonly hresult: number;
  readonly code: HresultCode;
  readonly context: ErrorContext;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly transient: boolean;

  constructor(code: HresultCode, message?: string, options: BitsErrorOptions = {}) {
    const hresult = options.hresult === undefined ? hresultOf(code) : options.hresult >>> 0;
    super(message ?? describeHresult(hresult), options.cause === undefined ? undefined : { cause: options.cause });
    this.hresult = hresult;
    this.code = code;
    this.context = options.context ?? 'NONE';
    this.details = options.details;
    this.transient = options.transient ?? false;
  }

  /**
   * Rebuilds an error from its wire form (IPC). The code is derived from the HRESULT (a peer's
   * code string is not trusted); an HRESULT bitsd has no name for is kept by value with code E_FAIL.
   */
  static fromJSON(value: { hresult: number; context?: string; message?: string }): BitsError {
    const hresult = value.hresult >>> 0;
    const context = value.context !== undefined && Object.hasOwn(ERROR_CONTEXTS, value.context) ? (value.context as ErrorContext) : 'NONE';
    return new BitsError(codeOf(hresult) ?? 'E_FAIL', value.message, { context, hresult });
  }

  toJSON(): { hresult: number; code: string; context: ErrorContext; message: string } {
    return { hresult: this.hresult, code: this.code, context: this.context, message: this.message };
  }

  /** "0x80200002 BG_E_INVALID_STATE: ..." for logs and the CLI. */
  describe(): string {
    return `${formatHresult(this.hresult)} ${this.code}: ${this.message}`;
  }
}

export function isBitsError(value: unknown): value is BitsError {
  return value instanceof BitsError;
}

/** E_INVALIDARG with a message naming the argument and what is wrong with it. */
export function invalidArg(message: string): BitsError {
  return new BitsError('E_INVALIDARG', message);
}

export function notImplemented(what: string): BitsError {
  return new BitsError('E_NOTIMPL', `${what} is not implemented by bitsd.`);
}
