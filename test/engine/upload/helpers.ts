/** Shared fixtures of the upload engine tests. */
import { BitsUploadEngine } from '../../../src/engine/upload/engine.js';
import type { UploadEngineOptions, UploadLogger } from '../../../src/engine/upload/options.js';
import { ScriptedTransport } from './scripted-transport.js';

export const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
export const URL_PATH = '/upload/data.bin';
export const ORIGIN = 'http://127.0.0.1:8080';

export function ack(headers: Record<string, string> = {}): Record<string, string> {
  return { 'bits-packet-type': 'Ack', ...headers };
}

export interface LogLine {
  readonly level: 'warn' | 'debug';
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;
}

export function recordingLogger(): { logger: UploadLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    logger: {
      warn: (message, details) => lines.push({ level: 'warn', message, details }),
      debug: (message, details) => lines.push({ level: 'debug', message, details }),
    },
  };
}

export function setup(options: Partial<Omit<UploadEngineOptions, 'transport'>> = {}): {
  transport: ScriptedTransport;
  engine: BitsUploadEngine;
  lines: LogLine[];
} {
  const transport = new ScriptedTransport();
  const { logger, lines } = recordingLogger();
  const engine = new BitsUploadEngine({ transport, fragmentSize: 100, minFragmentSize: 25, retryDelayMs: 1, logger, ...options });
  return { transport, engine, lines };
}

/** Settles a promise into a value or the error, so a test can assert on a rejection later. */
export function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
