/**
 * BackgroundCopyJob and BackgroundCopyFile over IPC: each method is one request to bitsd, with
 * the wire forms turned back into the API's (Dates, Buffers, file objects). watch() follows a
 * daemon-side watch stream and coalesces like the in-process one when the caller reads slowly.
 */
import type { BitsError } from '../shared/errors.js';
import type { AuthScheme, AuthTarget, Credentials, FileProgress, FileRange, JobProgress, JobPropertyName, JobState, JobTimes, JobType, Priority, ProxySettings, TransferStatus, WaitingStatus } from '../job/types.js';
import type { SubscribableEvents } from '../job/events.js';
import type { ClientCertificate } from '../job/types.js';
import type { BackgroundCopyFile, BackgroundCopyJob, FileInfo, JobError, NotifyCmdLine, PropertyValue, ReplyProgress, WatchEvent } from '../api/types.js';
import type { IpcConnection } from './client-connection.js';
import type { EventRouter } from './client-events.js';

/** A waiting reason as it travels (dates as ISO text, or absent) turned back into the API's. */
function waitingFromWire(w: (Omit<WaitingStatus, 'since' | 'until'> & { since?: unknown; until?: unknown }) | null | undefined): WaitingStatus | null {
  if (!w) return null;
  const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));
  return { ...w, since: date(w.since), until: date(w.until) };
}

const RANK: Readonly<Record<WatchEvent['kind'], number>> = { property: 0, progress: 1, state: 2 };

export class RemoteFile implements BackgroundCopyFile {
  readonly index: number;
  readonly #conn: IpcConnection;
  readonly #job: string;

  constructor(conn: IpcConnection, jobId: string, index: number) {
    this.#conn = conn;
    this.#job = jobId;
    this.index = index;
  }

  getRemoteName(): Promise<string> {
    return this.#conn.call('file.getRemoteName', { job: this.#job, index: this.index });
  }

  getLocalName(): Promise<string> {
    return this.#conn.call('file.getLocalName', { job: this.#job, index: this.index });
  }

  getProgress(): Promise<FileProgress> {
    return this.#conn.call('file.getProgress', { job: this.#job, index: this.index });
  }

  getTemporaryName(): Promise<string> {
    return this.#conn.call('file.getTemporaryName', { job: this.#job, index: this.index });
  }

  getFileRanges(): Promise<FileRange[]> {
    return this.#conn.call('file.getFileRanges', { job: this.#job, index: this.index });
  }

  async setRemoteName(url: string): Promise<void> {
    await this.#conn.call('file.setRemoteName', { job: this.#job, index: this.index, url });
  }
}

export class RemoteJob implements BackgroundCopyJob {
  readonly id: string;
  readonly #conn: IpcConnection;
  readonly #events: EventRouter;

  constructor(conn: IpcConnection, events: EventRouter, id: string) {
    this.#conn = conn;
    this.#events = events;
    this.id = id;
  }

  getType(): Promise<JobType> {
    return this.#conn.call('job.getType', { job: this.id });
  }

  getState(): Promise<JobState> {
    return this.#conn.call('job.getState', { job: this.id });
  }

  getProgress(): Promise<JobProgress> {
    return this.#conn.call('job.getProgress', { job: this.id });
  }

  async getTimes(): Promise<JobTimes> {
    const t = await this.#conn.call('job.getTimes', { job: this.id });
    return {
      creationTime: new Date(t.creationTime),
      modificationTime: new Date(t.modificationTime),
      transferCompletionTime: t.transferCompletionTime === null ? null : new Date(t.transferCompletionTime),
    };
  }

  getError(): Promise<JobError> {
    return this.#conn.call('job.getError', { job: this.id });
  }

  getErrorCount(): Promise<number> {
    return this.#conn.call('job.getErrorCount', { job: this.id });
  }

  getOwner(): Promise<string> {
    return this.#conn.call('job.getOwner', { job: this.id });
  }

  async addFile(remoteName: string, localName: string): Promise<void> {
    await this.#conn.call('job.addFile', { job: this.id, remoteName, localName });
  }

  async addFileSet(files: readonly FileInfo[]): Promise<void> {
    await this.#conn.call('job.addFileSet', { job: this.id, files: [...files] });
  }

  async addFileWithRanges(remoteName: string, localName: string, ranges: readonly FileRange[]): Promise<void> {
    await this.#conn.call('job.addFileWithRanges', { job: this.id, remoteName, localName, ranges: [...ranges] });
  }

  async enumFiles(): Promise<BackgroundCopyFile[]> {
    const indexes = await this.#conn.call('job.enumFiles', { job: this.id });
    return indexes.map((i) => new RemoteFile(this.#conn, this.id, i));
  }

  replaceRemotePrefix(oldPrefix: string, newPrefix: string): Promise<'S_OK' | 'S_FALSE'> {
    return this.#conn.call('job.replaceRemotePrefix', { job: this.id, oldPrefix, newPrefix });
  }

  async resume(): Promise<void> {
    await this.#conn.call('job.resume', { job: this.id });
  }

  async suspend(): Promise<void> {
    await this.#conn.call('job.suspend', { job: this.id });
  }

  cancel(): Promise<'S_OK' | 'BG_S_UNABLE_TO_DELETE_FILES'> {
    return this.#conn.call('job.cancel', { job: this.id });
  }

  complete(): Promise<'S_OK' | 'BG_S_PARTIAL_COMPLETE'> {
    return this.#conn.call('job.complete', { job: this.id });
  }

  getDisplayName(): Promise<string> {
    return this.#conn.call('job.getDisplayName', { job: this.id });
  }

  async setDisplayName(name: string): Promise<void> {
    await this.#conn.call('job.setDisplayName', { job: this.id, name });
  }

  getDescription(): Promise<string> {
    return this.#conn.call('job.getDescription', { job: this.id });
  }

  async setDescription(text: string): Promise<void> {
    await this.#conn.call('job.setDescription', { job: this.id, text });
  }

  getPriority(): Promise<Priority> {
    return this.#conn.call('job.getPriority', { job: this.id });
  }

  async setPriority(priority: Priority): Promise<void> {
    await this.#conn.call('job.setPriority', { job: this.id, priority });
  }

  getNotifyFlags(): Promise<number> {
    return this.#conn.call('job.getNotifyFlags', { job: this.id });
  }

  async setNotifyFlags(flags: number): Promise<void> {
    await this.#conn.call('job.setNotifyFlags', { job: this.id, flags });
  }

  getNotifyCmdLine(): Promise<NotifyCmdLine> {
    return this.#conn.call('job.getNotifyCmdLine', { job: this.id });
  }

  async setNotifyCmdLine(program: string | null, parameters: string | null): Promise<void> {
    await this.#conn.call('job.setNotifyCmdLine', { job: this.id, program, parameters });
  }

  getMinimumRetryDelay(): Promise<number> {
    return this.#conn.call('job.getMinimumRetryDelay', { job: this.id });
  }

  async setMinimumRetryDelay(seconds: number): Promise<void> {
    await this.#conn.call('job.setMinimumRetryDelay', { job: this.id, seconds });
  }

  getNoProgressTimeout(): Promise<number> {
    return this.#conn.call('job.getNoProgressTimeout', { job: this.id });
  }

  async setNoProgressTimeout(seconds: number): Promise<void> {
    await this.#conn.call('job.setNoProgressTimeout', { job: this.id, seconds });
  }

  getMaximumDownloadTime(): Promise<number> {
    return this.#conn.call('job.getMaximumDownloadTime', { job: this.id });
  }

  async setMaximumDownloadTime(seconds: number): Promise<void> {
    await this.#conn.call('job.setMaximumDownloadTime', { job: this.id, seconds });
  }

  getProxySettings(): Promise<ProxySettings> {
    return this.#conn.call('job.getProxySettings', { job: this.id });
  }

  async setProxySettings(usage: ProxySettings['usage'], proxyList?: string | null, bypassList?: string | null): Promise<void> {
    await this.#conn.call('job.setProxySettings', {
      job: this.id,
      usage,
      ...(proxyList === undefined ? {} : { proxyList }),
      ...(bypassList === undefined ? {} : { bypassList }),
    });
  }

  async setCredentials(credentials: Credentials): Promise<void> {
    await this.#conn.call('job.setCredentials', { job: this.id, credentials });
  }

  async removeCredentials(target: AuthTarget, scheme: AuthScheme): Promise<void> {
    await this.#conn.call('job.removeCredentials', { job: this.id, target, scheme });
  }

  getCustomHeaders(): Promise<string | null> {
    return this.#conn.call('job.getCustomHeaders', { job: this.id });
  }

  async setCustomHeaders(headers: string | null): Promise<void> {
    await this.#conn.call('job.setCustomHeaders', { job: this.id, headers });
  }

  async makeCustomHeadersWriteOnly(): Promise<void> {
    await this.#conn.call('job.makeCustomHeadersWriteOnly', { job: this.id });
  }

  getSecurityFlags(): Promise<number> {
    return this.#conn.call('job.getSecurityFlags', { job: this.id });
  }

  async setSecurityFlags(flags: number): Promise<void> {
    await this.#conn.call('job.setSecurityFlags', { job: this.id, flags });
  }

  getClientCertificate(): Promise<ClientCertificate | null> {
    return this.#conn.call('job.getClientCertificate', { job: this.id });
  }

  async setClientCertificate(certificate: ClientCertificate): Promise<void> {
    await this.#conn.call('job.setClientCertificate', { job: this.id, certificate });
  }

  async removeClientCertificate(): Promise<void> {
    await this.#conn.call('job.removeClientCertificate', { job: this.id });
  }

  getHttpMethod(): Promise<string> {
    return this.#conn.call('job.getHttpMethod', { job: this.id });
  }

  async setHttpMethod(method: string): Promise<void> {
    await this.#conn.call('job.setHttpMethod', { job: this.id, method });
  }

  getReplyFileName(): Promise<string | null> {
    return this.#conn.call('job.getReplyFileName', { job: this.id });
  }

  async setReplyFileName(path: string | null): Promise<void> {
    await this.#conn.call('job.setReplyFileName', { job: this.id, path });
  }

  getReplyProgress(): Promise<ReplyProgress> {
    return this.#conn.call('job.getReplyProgress', { job: this.id });
  }

  async getReplyData(): Promise<Buffer | null> {
    const data = await this.#conn.call('job.getReplyData', { job: this.id });
    return data === null ? null : Buffer.from(data, 'base64');
  }

  async getTransferStatus(): Promise<TransferStatus> {
    const status = await this.#conn.call('job.getTransferStatus', { job: this.id });
    return { ...status, waiting: waitingFromWire(status.waiting) };
  }

  getProperty(name: JobPropertyName): Promise<PropertyValue> {
    return this.#conn.call('job.getProperty', { job: this.id, name });
  }

  async setProperty(name: JobPropertyName, value: PropertyValue): Promise<void> {
    await this.#conn.call('job.setProperty', { job: this.id, name, value });
  }

  on<K extends keyof SubscribableEvents>(event: K, listener: (...args: SubscribableEvents[K]) => void): () => void {
    return this.#events.add(event, this.id, listener);
  }

  /**
   * Snapshots until the job rests (or the signal aborts), like the in-process watch(). Snapshots
   * the caller has not read yet are merged: a state change is never merged away.
   */
  async *watch(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<WatchEvent> {
    const { signal } = options;
    signal?.throwIfAborted();
    const queue: WatchEvent[] = [];
    // An object, not two lets: the stream callbacks change it behind the loop's back.
    const stream: { ended: boolean; failure: BitsError | null } = { ended: false, failure: null };
    let wake: (() => void) | null = null;
    const subscription = await this.#conn.stream(
      'events.watch',
      { job: this.id },
      {
        event: (_name, data) => {
          const wire = data as WatchEvent;
          const ev: WatchEvent = { ...wire, waiting: waitingFromWire(wire.waiting) };
          const last = queue[queue.length - 1];
          if (last && last.kind !== 'state') queue[queue.length - 1] = { ...ev, kind: RANK[ev.kind] >= RANK[last.kind] ? ev.kind : last.kind };
          else queue.push(ev);
          wake?.();
        },
        end: (error) => {
          stream.ended = true;
          stream.failure = error;
          wake?.();
        },
      },
    );
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        // Before anything queued: snapshots that arrived in the same read as the one the caller
        // aborted on must not be yielded after the abort.
        if (signal?.aborted) return;
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (stream.ended) {
          if (stream.failure) throw stream.failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!stream.ended) this.#conn.unsubscribe(subscription);
    }
  }
}
