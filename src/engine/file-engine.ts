/**
 * The file:// engine: DOWNLOAD jobs whose remote name is a local file (bits-api.md feature 37).
 * It streams the source into the job's temp file, resuming at the durable offset, flushing to
 * disk before each progress report so a crash can never leave progress ahead of the bytes. The
 * temp file is the HTTP download's (download/temp-file.ts): created by bitsd with O_EXCL and
 * never followed through a symlink or reopened once something else holds its name.
 * The size and mtime of the source are the validators: if they change, the copy restarts.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BitsError } from '../shared/errors.js';
import { errnoOf, localFileError } from '../shared/os-errors.js';
import type { JobType } from '../job/types.js';
import type { TransferContext, TransferEngine } from './types.js';
import { TempFile } from './download/temp-file.js';

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
    const unchanged = saved.size === now.size && saved.mtimeMs === now.mtimeMs && ctx.file.bytesTotal === now.size;
    // New file, or the source changed since the last attempt: restart this file only.
    const wanted = unchanged ? ctx.file.bytesTransferred : 0;
    ctx.sink.connected();
    // Created with O_EXCL, or reopened only if still the file recorded (temp-file.ts).
    const { file: out, offset } = await TempFile.open({
      path: ctx.file.tempName,
      offset: wanted,
      identity: ctx.file.tempIdentity,
      onCreated: (identity) => ctx.sink.tempCreated(identity),
      // As open(2) without a mode gave it before: 0666 less the umask.
      mode: 0o666,
    });
    try {
      if (!unchanged) ctx.sink.setTotal(now.size);
      if (!unchanged || offset !== ctx.file.bytesTransferred) ctx.sink.progress(offset, { ...now });
      await this.#copy(ctx, source, out, offset, now);
      await out.flush();
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      throw err instanceof BitsError ? err : localFileError(err, `Cannot copy ${source} to ${ctx.file.tempName}`);
    } finally {
      await out.close();
    }
    ctx.sink.progress(now.size, { ...now });
  }

  async #copy(ctx: TransferContext, source: string, out: TempFile, start: number, validators: Validators): Promise<void> {
    if (start >= validators.size) return;
    const input = createReadStream(source, { start, end: validators.size - 1, highWaterMark: 256 * 1024, signal: ctx.signal });
    let position = start;
    let reported = start;
    let reportedAt = ctx.clock.now();
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const wait = ctx.pacer?.acquire(chunk.length, ctx.signal);
      if (wait) await wait;
      await out.write(chunk, position);
      position += chunk.length;
      if (position - reported >= this.#progressBytes || ctx.clock.now() - reportedAt >= this.#progressIntervalMs) {
        await out.flush();
        ctx.sink.progress(position, { ...validators });
        reported = position;
        reportedAt = ctx.clock.now();
      }
    }
  }
}
