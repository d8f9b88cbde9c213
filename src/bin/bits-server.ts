#!/usr/bin/env node
/**
 * bits-server: the reference BITS upload server from the command line.
 *
 *   bits-server --root DIR [--port N] [--host 127.0.0.1] [--faults FILE] ...
 *
 * Prints exactly one line, "listening on http://HOST:PORT", on stdout when ready; SIGTERM and
 * SIGINT close it (partial uploads deleted) and exit 0. See docs/bits-server.md.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type FaultPlan, parseFaultPlan, type ReplyHandler, startBitsServer } from '../server/index.js';

const HELP = `Usage: bits-server --root DIR [options]

  --root DIR                   directory served and uploaded into (required)
  --port N                     port (default 0: a free port)
  --host ADDR                  address to bind (default 127.0.0.1)
  --faults FILE                JSON fault plan (see docs/bits-server.md)
  --staging DIR                where partial uploads live (default: a temp dir under --root)
  --max-upload-size BYTES      larger files get 500 + BG_E_TOO_LARGE
  --max-fragment-size BYTES    larger fragments get 413
  --host-id NAME               send BITS-Host-Id on Create-Session
  --host-id-fallback-timeout S send BITS-Host-Id-Fallback-Timeout (seconds)
  --reply echo|summary         upload-reply: answer with the uploaded bytes, or a JSON summary
  --no-overwrite               Create-Session for an existing file gets 409
  --no-ranges                  GET ignores Range headers
  --no-head-size               HEAD answers carry no Content-Length
  -h, --help                   this text
`;

function fail(message: string): never {
  process.stderr.write(`bits-server: ${message}\n`);
  process.exit(2);
}

function nonNegativeInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`--${name} must be a non-negative integer`);
  return Number(text);
}

function replyHandlerFor(mode: string | undefined): ReplyHandler | undefined {
  if (mode === undefined) return undefined;
  if (mode === 'echo') return async (uploadedPath) => ({ path: uploadedPath });
  if (mode === 'summary') {
    return async (uploadedPath, requestPath) => {
      const bytes = await readFile(uploadedPath);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      return { body: `${JSON.stringify({ path: requestPath, size: bytes.length, sha256 })}\n`, contentType: 'application/json' };
    };
  }
  return fail('--reply must be echo or summary');
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        root: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        faults: { type: 'string' },
        staging: { type: 'string' },
        'max-upload-size': { type: 'string' },
        'max-fragment-size': { type: 'string' },
        'host-id': { type: 'string' },
        'host-id-fallback-timeout': { type: 'string' },
        reply: { type: 'string' },
        'no-overwrite': { type: 'boolean' },
        'no-ranges': { type: 'boolean' },
        'no-head-size': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
  }
  const v = parsed.values;
  if (v.help === true) {
    process.stdout.write(HELP);
    return;
  }
  if (v.root === undefined) fail(`--root is required\n\n${HELP}`);
  const port = nonNegativeInt('port', v.port) ?? 0;
  if (port > 65535) fail('--port must be at most 65535');

  let faults: FaultPlan | undefined;
  if (v.faults !== undefined) {
    try {
      faults = parseFaultPlan(JSON.parse(await readFile(v.faults, 'utf8')) as unknown);
    } catch (err) {
      fail(`--faults ${v.faults}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const maxUploadSize = nonNegativeInt('max-upload-size', v['max-upload-size']);
  const maxFragmentSize = nonNegativeInt('max-fragment-size', v['max-fragment-size']);
  const fallback = nonNegativeInt('host-id-fallback-timeout', v['host-id-fallback-timeout']);
  const replyHandler = replyHandlerFor(v.reply);

  const server = await startBitsServer({
    root: v.root,
    port,
    host: v.host ?? '127.0.0.1',
    allowOverwrite: v['no-overwrite'] !== true,
    ranges: v['no-ranges'] !== true,
    headSize: v['no-head-size'] !== true,
    ...(faults === undefined ? {} : { faults }),
    ...(v.staging === undefined ? {} : { stagingDir: v.staging }),
    ...(maxUploadSize === undefined ? {} : { maxUploadSize }),
    ...(maxFragmentSize === undefined ? {} : { maxFragmentSize }),
    ...(v['host-id'] === undefined ? {} : { hostId: v['host-id'] }),
    ...(fallback === undefined ? {} : { hostIdFallbackTimeoutSec: fallback }),
    ...(replyHandler === undefined ? {} : { replyHandler }),
    onError: (err) => process.stderr.write(`bits-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`),
  });

  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second signal forces the stop
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`bits-server: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`listening on ${server.url}\n`);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
