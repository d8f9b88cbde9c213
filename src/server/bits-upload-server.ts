/**
 * The BITS_POST front door: classifies the packet, logs it, applies the next scripted fault for
 * its type (faults.ts) and otherwise hands it to UploadService (bits-packets.ts). Every answer
 * is an Ack with Content-Length, except where a fault says otherwise.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { httpErrorHresult } from '../shared/hresult.js';
import { type Ack, CONTEXT_SERVER, errorAck, withHeader, withoutHeader } from './bits-ack.js';
import { discard, type PacketContext, type PacketResult, type UploadService } from './bits-packets.js';
import { type Fault, type FaultQueue, PACKET_KINDS, type PacketKind, resolveErrorCode } from './faults.js';
import type { IncomingRequest } from './http-connection.js';
import type { ResponseWriter } from './http-response.js';
import { parseFragmentRange } from './ranges.js';
import type { PacketLogEntry, ServerLog } from './server-log.js';

export interface BitsPostOptions {
  readonly service: UploadService;
  readonly faults: FaultQueue;
  readonly log: ServerLog;
  /** "http://host:port" as the client addressed us (for BITS-Reply-URL). */
  readonly origin: (req: IncomingRequest) => string;
  /** Aborted when the server closes, so scripted delays do not outlive it. */
  readonly signal: AbortSignal;
}

export function classifyPacket(packetType: string): PacketKind | 'unknown' {
  const lower = packetType.trim().toLowerCase();
  return (PACKET_KINDS as readonly string[]).includes(lower) ? (lower as PacketKind) : 'unknown';
}

/** Resolves after ms, or returns false at once when the server is closing. */
async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleepFor(ms, undefined, { signal, ref: false });
    return true;
  } catch {
    return false;
  }
}

/** Reads up to n body bytes and stops (the connection is reset right after). */
async function readAtMost(body: AsyncIterable<Buffer>, n: number): Promise<void> {
  let read = 0;
  if (n <= 0) return;
  try {
    for await (const chunk of body) {
      read += chunk.length;
      if (read >= n) return;
    }
  } catch {
    // The client went away first; the reset below is then a no-op.
  }
}

function describeFault(fault: Fault): string {
  return JSON.stringify(fault);
}

/** The Ack a `status` fault answers with; with apply, the real Ack's headers are kept. */
function statusFaultAck(fault: Extract<Fault, { kind: 'status' }>, real: Ack | undefined): Ack {
  const headers: Record<string, string> = { 'BITS-Packet-Type': 'Ack' };
  for (const [k, v] of Object.entries(real?.headers ?? {})) {
    if (!/^bits-error-(code|context)$/i.test(k)) headers[k] = v;
  }
  Object.assign(headers, fault.headers ?? {});
  const base: Ack = { status: fault.status, headers, ...(fault.body === undefined ? {} : { body: fault.body }) };
  if (fault.status === 200 || fault.status === 201 || fault.errorCode === null) return base;
  const code = fault.errorCode === undefined ? httpErrorHresult(fault.status) : resolveErrorCode(fault.errorCode);
  return { ...errorAck(fault.status, code, fault.errorContext ?? CONTEXT_SERVER, headers), ...(base.body === undefined ? {} : { body: base.body }) };
}

function headerRecord(headers: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries(headers);
}

export async function handleBitsPost(req: IncomingRequest, res: ResponseWriter, o: BitsPostOptions): Promise<void> {
  const packetType = req.headers.get('bits-packet-type') ?? '';
  const kind = classifyPacket(packetType);
  const contentRange = kind === 'fragment' ? req.headers.get('content-range') : undefined;
  const entry: PacketLogEntry = {
    seq: o.log.nextSeq(),
    time: Date.now(),
    connection: req.connection.id,
    remotePort: req.connection.remotePort,
    packetType,
    kind,
    target: req.target,
    sessionId: req.headers.get('bits-session-id'),
    headers: headerRecord(req.headers),
    contentRange,
    range: contentRange === undefined ? undefined : parseFragmentRange(contentRange),
    contentLength: req.head.contentLength,
    answeredSessionId: undefined,
    outcome: 'pending',
    errorCode: undefined,
    fault: undefined,
  };
  o.log.packets.push(entry);
  const fault = kind === 'unknown' ? undefined : o.faults.take(kind);
  if (fault !== undefined) entry.fault = describeFault(fault);
  const ctx: PacketContext = { req, origin: o.origin(req) };

  // Faults that replace the packet's processing.
  if (fault?.kind === 'stall') {
    if (fault.delayMs === undefined) {
      await discard(req.body);
      res.hold();
      entry.outcome = 'stalled';
      return;
    }
    if (!(await sleep(fault.delayMs, o.signal))) {
      res.reset();
      entry.outcome = 'reset';
      return;
    }
  }
  if (fault?.kind === 'status' && fault.apply !== true) {
    await discard(req.body);
    send(res, entry, statusFaultAck(fault, undefined), false);
    return;
  }
  if (fault?.kind === 'reset') {
    const limit = fault.afterBodyBytes ?? 0;
    if (kind === 'fragment' && fault.store !== false) await o.service.fragment({ ...ctx, bodyLimit: limit });
    else await readAtMost(req.body, limit);
    res.reset();
    entry.outcome = 'reset';
    return;
  }

  const result = await dispatch(kind, ctx, o.service, req);
  if (result.kind === 'aborted') {
    res.markGone();
    entry.outcome = 'aborted';
    return;
  }

  // Faults that distort a real answer.
  let answer = result.ack;
  let omitContentLength = false;
  switch (fault?.kind) {
    case 'drop-ack':
      res.reset();
      entry.outcome = 'reset';
      return;
    case 'status':
      answer = statusFaultAck(fault, answer);
      break;
    case 'received-range': {
      const truth = Number(answer.headers['BITS-Received-Content-Range'] ?? '0');
      const value = fault.value ?? String(truth + (fault.delta ?? 0));
      answer = withHeader(answer, 'BITS-Received-Content-Range', value);
      break;
    }
    case 'omit-header':
      answer = withoutHeader(answer, fault.header);
      omitContentLength = fault.header.toLowerCase() === 'content-length';
      break;
    case 'close':
      if (fault.announce === false) res.closeSilently();
      else res.requestClose();
      break;
    default:
      break;
  }
  if (answer.headers['BITS-Reply-URL'] !== undefined && o.faults.replyDelayMs > 0) {
    if (!(await sleep(o.faults.replyDelayMs, o.signal))) {
      res.reset();
      entry.outcome = 'reset';
      return;
    }
  }
  send(res, entry, answer, omitContentLength);
}

function send(res: ResponseWriter, entry: PacketLogEntry, answer: Ack, omitContentLength: boolean): void {
  res.send(answer.status, answer.headers, answer.body ?? '', { omitContentLength });
  entry.outcome = answer.status;
  entry.errorCode = answer.headers['BITS-Error-Code'];
  entry.answeredSessionId = answer.headers['BITS-Session-Id'];
}

async function dispatch(kind: PacketKind | 'unknown', ctx: PacketContext, service: UploadService, req: IncomingRequest): Promise<PacketResult> {
  // Only Fragment carries a body; a body on any other packet breaks the protocol (TransferVM
  // answers 400 + E_INVALIDARG for it too).
  if (kind !== 'fragment' && (req.head.contentLength ?? 0) > 0) {
    await discard(req.body);
    return { kind: 'ack', ack: { ...errorAck(400, resolveErrorCode('E_INVALIDARG')), body: 'this packet has no body\n' } };
  }
  switch (kind) {
    case 'ping':
      return service.ping();
    case 'create-session':
      return service.createSession(ctx);
    case 'fragment':
      return service.fragment(ctx);
    case 'close-session':
      return service.closeSession(ctx);
    case 'cancel-session':
      return service.cancelSession(ctx);
    case 'unknown':
      return {
        kind: 'ack',
        ack: { ...errorAck(400, resolveErrorCode('E_INVALIDARG')), body: 'unknown or missing BITS-Packet-Type\n' },
      };
  }
}
