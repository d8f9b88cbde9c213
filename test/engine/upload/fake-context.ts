/** A TransferContext that records every callback, for upload engine tests. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../../src/shared/clock.js';
import type { EngineState, ReplyInfo, TransferContext, TransferFile, TransferJob } from '../../../src/engine/types.js';
import type { Credentials, JobType } from '../../../src/job/types.js';

export interface Recorded {
  connected: number;
  totals: number[];
  progress: Array<{ bytes: number; state: EngineState | undefined }>;
  states: EngineState[];
  replies: ReplyInfo[];
  /** The latest engine state written by progress() or saveState(). */
  lastState: EngineState;
  lastBytes: number;
}

export interface ContextOptions {
  readonly type?: JobType;
  readonly remoteName?: string;
  readonly localName: string;
  readonly bytesTotal?: number;
  readonly bytesTransferred?: number;
  readonly engineState?: EngineState;
  readonly customHeaders?: string | null;
  readonly credentials?: readonly Credentials[];
  readonly replyFileName?: string | null;
  readonly signal?: AbortSignal;
  readonly clock?: FakeClock;
  /** UPLOAD_REPLY: the reply as the queue recorded it (TransferFile.reply). */
  readonly reply?: ReplyInfo;
}

export function makeJob(options: Pick<ContextOptions, 'type' | 'customHeaders' | 'credentials' | 'replyFileName'>): TransferJob {
  return {
    id: '{6F1C4C57-5F5B-4C55-9C1E-3D1F4D5E6A7B}',
    type: options.type ?? 'UPLOAD',
    priority: 'NORMAL',
    customHeaders: options.customHeaders ?? null,
    credentials: options.credentials ?? [],
    proxy: { usage: 'NO_PROXY', proxyList: null, bypassList: null },
    securityFlags: 0,
    clientCertificate: null,
    httpMethod: null,
    dynamicContent: false,
    highPerformance: false,
    maxDownloadSize: null,
    replyFileName: options.replyFileName ?? null,
    minimumRetryDelaySec: 600,
    noProgressTimeoutSec: 1_209_600,
  };
}

export function makeFile(options: ContextOptions): TransferFile {
  return {
    index: 0,
    remoteName: options.remoteName ?? 'http://127.0.0.1:8080/upload/data.bin',
    localName: options.localName,
    tempName: '',
    bytesTotal: options.bytesTotal ?? -1,
    bytesTransferred: options.bytesTransferred ?? 0,
    syncedBytes: options.bytesTransferred ?? 0,
    ranges: null,
    engineState: options.engineState ?? {},
    tempIdentity: null,
    ...(options.reply !== undefined ? { reply: options.reply } : {}),
  };
}

export function makeContext(options: ContextOptions): { ctx: TransferContext; rec: Recorded; controller: AbortController } {
  const controller = new AbortController();
  const rec: Recorded = { connected: 0, totals: [], progress: [], states: [], replies: [], lastState: options.engineState ?? {}, lastBytes: options.bytesTransferred ?? 0 };
  const ctx: TransferContext = {
    job: makeJob(options),
    file: makeFile(options),
    signal: options.signal ?? controller.signal,
    clock: options.clock ?? new FakeClock(),
    sink: {
    connected: () => {
      rec.connected++;
    },
    setTotal: (total) => {
      rec.totals.push(total);
    },
    progress: (bytes, state) => {
      rec.progress.push({ bytes, state });
      rec.lastBytes = bytes;
      if (state) rec.lastState = state;
    },
    saveState: (state) => {
      rec.states.push(state);
      rec.lastState = state;
    },
    setRemoteName: () => undefined,
    tempCreated: () => undefined,
    replyProgress: (reply) => {
      rec.replies.push(reply);
    },
    },
  };
  return { ctx, rec, controller };
}

/** A temp directory with one file of `size` deterministic bytes. */
export async function tempFile(size: number, name = 'data.bin'): Promise<{ dir: string; path: string; content: Buffer; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bitsd-upload-'));
  const path = join(dir, name);
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i++) content[i] = (i * 31 + 7) & 0xff;
  await writeFile(path, content);
  return { dir, path, content, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
