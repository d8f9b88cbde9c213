/**
 * startBitsServer: the reference BITS upload server plus a static file server over the same
 * root, in-process, for engine, CLI and benchmark tests. Routes:
 *   BITS_POST <any path>        BITS upload protocol (bits-upload-server.ts)
 *   GET/HEAD  /__bits-reply/<t> upload-reply answers (BITS-Reply-URL points here)
 *   PUT/POST  /__sink           reads and discards the body; 200, body and X-Sink-Bytes = byte count
 *   GET/HEAD  <path>            the file <root>/<path>, with single-range support
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { type ReplyHandler, REPLY_PREFIX, UploadService, discard } from './bits-packets.js';
import { handleBitsPost } from './bits-upload-server.js';
import { type FaultPlan, FaultQueue, type FaultTarget } from './faults.js';
import type { IncomingRequest } from './http-connection.js';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-reader.js';
import type { ResponseWriter } from './http-response.js';
import { listenHttp } from './http-server.js';
import { resolveUrlPath, targetPath } from './paths.js';
import { type PacketLogEntry, type RequestLogEntry, ServerLog, type ServerStats } from './server-log.js';
import { type FileToServe, serveFile, type StaticOptions } from './static-files.js';
import { type SessionInfo, UploadSessions } from './upload-sessions.js';

export const SINK_PATH = '/__sink';
/** Staging directories made by the server are named with this prefix and never served. */
const STAGING_PREFIX = '.bits-staging';

export interface BitsServerOptions {
  /** Directory served and uploaded into. */
  readonly root: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where partial uploads live; default a fresh `<root>/.bits-staging-XXXXXX`, removed on close. */
  readonly stagingDir?: string;
  readonly faults?: FaultPlan;
  readonly replyHandler?: ReplyHandler;
  /** Files larger than this get 500 + BG_E_TOO_LARGE. */
  readonly maxUploadSize?: number;
  /** Fragments larger than this get 413 (the client should send smaller ones). */
  readonly maxFragmentSize?: number;
  /** Sent as BITS-Host-Id on Create-Session Acks. */
  readonly hostId?: string;
  /** Sent as BITS-Host-Id-Fallback-Timeout (seconds), only with hostId. */
  readonly hostIdFallbackTimeoutSec?: number;
  /** false: Create-Session for an existing file gets 409 (IIS BITSAllowOverwrites=0). Default true. */
  readonly allowOverwrite?: boolean;
  /** false: GET ignores Range (always 200, no Accept-Ranges). Default true. */
  readonly ranges?: boolean;
  /** false: HEAD answers carry no Content-Length. Default true. */
  readonly headSize?: boolean;
  readonly limits?: Partial<HttpLimits>;
  /** Idle connections (and stalled answers) are destroyed after this long. Default 120 s. */
  readonly idleTimeoutMs?: number;
  /** Handler exceptions (answered 500); default: ignored. */
  readonly onError?: (err: unknown) => void;
}

export interface BitsServer {
  /** "http://127.0.0.1:PORT" (no trailing slash). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly root: string;
  readonly stagingDir: string;
  /** BITS_POST packets in arrival order (live array). */
  readonly packets: readonly PacketLogEntry[];
  /** Every other request (GET/HEAD/sink/refused methods), in arrival order (live array). */
  readonly requests: readonly RequestLogEntry[];
  /** Counters (live object). */
  readonly stats: Readonly<ServerStats>;
  /** Sessions currently open. */
  sessions(): SessionInfo[];
  /** Replaces the fault plan; throws on an invalid plan. */
  setFaults(plan: FaultPlan): void;
  /** Uses left in the plan for a target (Infinity for "forever"). */
  pendingFaults(target: FaultTarget): number;
  /** Empties the logs and zeroes the counters. */
  clearLog(): void;
  /** Stops listening, destroys connections, deletes partial uploads. Idempotent. */
  close(): Promise<void>;
}

function formatOrigin(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export async function startBitsServer(options: BitsServerOptions): Promise<BitsServer> {
  const root = resolve(options.root);
  const host = options.host ?? '127.0.0.1';
  await mkdir(root, { recursive: true });
  const ownsStaging = options.stagingDir === undefined;
  const stagingDir = ownsStaging ? await mkdtemp(join(root, `${STAGING_PREFIX}-`)) : resolve(options.stagingDir as string);
  await mkdir(stagingDir, { recursive: true });

  const log = new ServerLog();
  const faults = new FaultQueue(options.faults ?? {});
  const sessions = new UploadSessions(stagingDir);
  const isStaged = (absPath: string): boolean => {
    const rel = absPath.slice(root.length + 1);
    return rel.split(sep)[0]?.startsWith(STAGING_PREFIX) === true || absPath.startsWith(stagingDir + sep);
  };
  const service = new UploadService({
    isReserved: isStaged,
    root,
    sessions,
    log,
    replyHandler: options.replyHandler,
    maxUploadSize: options.maxUploadSize,
    maxFragmentSize: options.maxFragmentSize,
    hostId: options.hostId,
    hostIdFallbackTimeoutSec: options.hostIdFallbackTimeoutSec,
    allowOverwrite: options.allowOverwrite ?? true,
  });
  const staticOptions: StaticOptions = { ranges: options.ranges ?? true, headSize: options.headSize ?? true };
  const closing = new AbortController();
  let listenerOrigin = '';
  const origin = (req: IncomingRequest): string => {
    const hostHeader = req.headers.get('host');
    return hostHeader !== undefined && HOST_HEADER.test(hostHeader) ? `http://${hostHeader}` : listenerOrigin;
  };

  async function serveGet(req: IncomingRequest, res: ResponseWriter, entry: RequestLogEntry): Promise<void> {
    const fault = faults.take('get');
    if (fault !== undefined) entry.fault = JSON.stringify(fault);
    if (fault?.kind === 'stall') {
      if (fault.delayMs === undefined) {
        res.hold();
        entry.outcome = 'stalled';
        return;
      }
      await new Promise((r) => setTimeout(r, fault.delayMs).unref());
    }
    if (fault?.kind === 'status') {
      res.send(fault.status, { 'Content-Type': 'text/plain', ...(fault.headers ?? {}) }, fault.body ?? '');
      entry.outcome = fault.status;
      return;
    }
    if (fault?.kind === 'drop-ack') {
      res.reset();
      entry.outcome = 'reset';
      return;
    }
    if (fault?.kind === 'close') {
      if (fault.announce === false) res.closeSilently();
      else res.requestClose();
    }
    const path = targetPath(req.target);
    let file: FileToServe | undefined;
    if (path.startsWith(REPLY_PREFIX)) {
      const reply = sessions.byReplyToken(path.slice(REPLY_PREFIX.length))?.reply;
      if (reply !== undefined) file = { path: reply.path, contentType: reply.contentType };
    } else {
      const mapped = resolveUrlPath(root, req.target);
      if (!mapped.ok) {
        res.send(400, { 'Content-Type': 'text/plain' }, `${mapped.reason}\n`);
        entry.outcome = 400;
        return;
      }
      if (!isStaged(mapped.absPath)) file = { path: mapped.absPath, contentType: 'application/octet-stream' };
    }
    if (file === undefined) {
      res.send(404, { 'Content-Type': 'text/plain' }, 'not found\n');
      entry.outcome = 404;
      return;
    }
    await serveFile(req, res, file, staticOptions, fault, (outcome) => {
      entry.outcome = outcome;
    });
  }

  async function route(req: IncomingRequest, res: ResponseWriter): Promise<void> {
    if (req.method === 'BITS_POST') {
      await handleBitsPost(req, res, { service, faults, log, origin, signal: closing.signal });
      return;
    }
    const entry: RequestLogEntry = {
      seq: log.nextSeq(),
      time: Date.now(),
      connection: req.connection.id,
      remotePort: req.connection.remotePort,
      method: req.method,
      target: req.target,
      range: req.headers.get('range'),
      outcome: 'pending',
      fault: undefined,
    };
    log.requests.push(entry);
    const path = targetPath(req.target);
    if (path === SINK_PATH && (req.method === 'PUT' || req.method === 'POST')) {
      const count = await discard(req.body);
      log.stats.sinkBytes += count;
      res.send(200, { 'Content-Type': 'text/plain', 'X-Sink-Bytes': count }, `${count}\n`);
      entry.outcome = 200;
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      await serveGet(req, res, entry);
      return;
    }
    res.send(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD, BITS_POST' }, 'method not allowed\n');
    entry.outcome = 405;
  }

  const listener = await listenHttp({
    host,
    port: options.port ?? 0,
    handler: route,
    limits: { ...DEFAULT_HTTP_LIMITS, ...options.limits },
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  listenerOrigin = formatOrigin(host, listener.port);

  let closed: Promise<void> | undefined;
  return {
    url: listenerOrigin,
    host,
    port: listener.port,
    root,
    stagingDir,
    packets: log.packets,
    requests: log.requests,
    stats: log.stats,
    sessions: () => sessions.list(),
    setFaults: (plan) => faults.set(plan),
    pendingFaults: (target) => faults.pending(target),
    clearLog: () => log.clear(),
    close() {
      closed ??= (async () => {
        closing.abort();
        await listener.close();
        await service.shutdown();
        if (ownsStaging) await rm(stagingDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
