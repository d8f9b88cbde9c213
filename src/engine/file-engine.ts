/**
 * The file:// engine: DOWNLOAD jobs whose remote name is a local file (bits-api.md feature 37).
 * It streams the source into the job's temp file, resuming at the durable offset, flushing to
 * disk before each progress report so a crash can never leave progress ahead of the bytes.
 * The size and mtime of the source are the validators: if they change, the copy restarts.
 */
import { constants, createReadStream } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BitsError } from '../shared/errors.js';
import { errnoOf, localFileError } from '../shared/os-errors.js';
import type { JobType } from '../job/types.js';
import type { TransferContext, TransferEngine } from './types.js';

export interface FileEngineOptions {
  /** Flush and report progress at least every this many bytes. */
  readonly progressBytes?: number;
  /** ... or this often (ms of the injected clock). */
  readonly progressIntervalMs?: number;
}

interface Validators {
  readonly size: number;
  readonly mtimeMs: number;
}

export class FileEngine implements TransferEngine {
  readonly name = 'file';
  readonly #progressBytes: number;
  readonly #progressIntervalMs: number;

  constructor(options: FileEngineOptions = {}) {
    this.#progressBytes = options.progressBytes ?? 8 * 1024 * 1024;
    this.#progressIntervalMs = options.progressIntervalMs ?? 1000;
  }

  handles(jobType: JobType, remote: URL): boolean {
    return jobType === 'DOWNLOAD' && remote.protocol === 'file:';
  }

  async transfer(ctx: TransferContext): Promise<void> {
    const source = fileURLToPath(ctx.file.remoteName);
    let info;
    try {
      info = await stat(source);
    } catch (err) {
      // The source is the remote side of a file:// job: a missing one is fatal, like a 404.
      const code = errnoOf(err) === 'ENOENT' ? 'ERROR_FILE_NOT_FOUND' : localFileError(err, '').code;
      throw new BitsError(code, `Cannot read the source ${source}: ${err instanceof Error ? err.message : String(err)}`, {
        context: 'REMOTE_FILE',
        cause: err,
      });
    }
    if (!info.isFile()) {
      throw new BitsError('ERROR_FILE_NOT_FOUND', `The source ${source} is not a regular file.`, { context: 'REMOTE_FILE' });
    }
    const now: Validators = { size: info.size, mtimeMs: info.mtimeMs };
    const saved = ctx.file.engineState as Partial<Validators>;
    let offset = ctx.file.bytesTransferred;
    if (saved.size !== now.size || saved.mtimeMs !== now.mtimeMs || ctx.file.bytesTotal !== now.size) {
      // New file, or the source changed since the last attempt: restart this file only.
      offset = 0;
      ctx.sink.setTotal(now.size);
      ctx.sink.progress(0, { ...now });
    }
    ctx.sink.connected();

    let out: FileHandle;
    try {
      // Read-write without truncation: the bytes before `offset` are the durable part we resume.
      out = await open(ctx.file.tempName, constants.O_RDWR | constants.O_CREAT);
      await out.truncate(offset);
    } catch (err) {
      throw localFileError(err, `Cannot open the temp file ${ctx.file.tempName}`);
    }
    try {
      await this.#copy(ctx, source, out, offset, now);
      await out.sync();
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      throw err instanceof BitsError ? err : localFileError(err, `Cannot copy ${source} to ${ctx.file.tempName}`);
    } finally {
      await out.close().catch(() => undefined);
    }
    ctx.sink.progress(now.size, { ...now });
  }

  async #copy(ctx: TransferContext, source: string, out: FileHandle, start: number, validators: Validators): Promise<void> {
    if (start >= validators.size) return;
    const input = createReadStream(source, { start, end: validators.size - 1, highWaterMark: 256 * 1024, signal: ctx.signal });
    let position = start;
    let reported = start;
    let reportedAt = ctx.clock.now();
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await out.write(chunk, written, chunk.length - written, position + written);
        written += bytesWritten;
      }
      position += chunk.length;
      if (position - reported >= this.#progressBytes || ctx.clock.now() - reportedAt >= this.#progressIntervalMs) {
        await out.datasync();
        ctx.sink.progress(position, { ...validators });
        reported = position;
        reportedAt = ctx.clock.now();
      }
    }
  }
}
