/**
 * The upload engine's persisted per-file state (TransferFile.engineState), read defensively: it
 * comes back from the store after restarts and upgrades, so every field is validated and anything
 * unusable falls back to "no session yet".
 *
 * Phases: uploading (fragments to send) -> reply (UPLOAD_REPLY: the reply to fetch) -> closing
 * (Close-Session to send) -> closed (Close-Session acknowledged). A restart resumes at the phase
 * stored, so an upload whose last fragment was acknowledged goes straight to Close-Session.
 * Fields added later (closeFailingSince, the reply's tempIdentity, download and bytesSynced)
 * read as null, empty or their safe value from older rows, so the format stays bits-upload/1.
 */
import type { FileIdentity } from '../../job/types.js';
import type { EngineState } from '../types.js';
import { isByteCount } from '../../protocol/ranges.js';
import { isValidHostId, isValidSessionId } from '../../protocol/ack.js';
import { isAbsolute } from 'node:path';

export const UPLOAD_PHASES = ['uploading', 'reply', 'closing', 'closed'] as const;
export type UploadPhase = (typeof UPLOAD_PHASES)[number];

export interface ReplyState {
  /** Absolute http(s) URL of the reply (BITS-Reply-URL resolved against the upload URL). */
  readonly url: string;
  /** Absolute path of the reply's temp file. */
  readonly tempName: string;
  /** -1 until known. */
  readonly bytesTotal: number;
  /** Bytes in the temp file that a crash of the process cannot lose (their writes returned). */
  readonly bytesReceived: number;
  /**
   * The part of bytesReceived on disk (fdatasync). Rows from before it was recorded read as
   * bytesReceived: everything recorded then was flushed first.
   */
  readonly bytesSynced: number;
  /** The temp file as the download engine created it; null before that (and in older rows). */
  readonly tempIdentity: FileIdentity | null;
  /** The download engine's state for the reply (its validators); {} before the first answer. */
  readonly download: EngineState;
}

export interface UploadState {
  readonly phase: UploadPhase;
  readonly sessionId: string | null;
  /** Size and mtime of the local file when the first session was created (consistency check). */
  readonly fileSize: number | null;
  readonly fileMtimeMs: number | null;
  /** The fragment size after 413s, kept so a restart does not provoke them again. */
  readonly fragmentSize: number | null;
  /** BITS-Host-Id: the host of every packet of the session. */
  readonly hostId: string | null;
  readonly hostIdFallbackSec: number | null;
  /** Clock time of the first failed connection to hostId since the last success. */
  readonly hostIdFailingSince: number | null;
  readonly reply: ReplyState | null;
  /**
   * Clock time of the first failed Close-Session (5xx or network failure) of this session: the
   * start of its retry window (close-window.ts). Null until Close-Session first fails.
   */
  readonly closeFailingSince: number | null;
}

export const INITIAL_STATE: UploadState = {
  phase: 'uploading',
  sessionId: null,
  fileSize: null,
  fileMtimeMs: null,
  fragmentSize: null,
  hostId: null,
  hostIdFallbackSec: null,
  hostIdFailingSince: null,
  reply: null,
  closeFailingSince: null,
};

/** Marks the JSON as ours and versions its shape. */
const FORMAT = 'bits-upload/1';

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && isByteCount(value) ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function readReply(value: unknown): ReplyState | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  const url = str(r['url']);
  const tempName = str(r['tempName']);
  const received = count(r['bytesReceived']);
  const total = r['bytesTotal'] === -1 ? -1 : count(r['bytesTotal']);
  if (url === null || tempName === null || received === null || total === null) return null;
  if (!/^https?:\/\//i.test(url) || !isAbsolute(tempName)) return null;
  const identity = str(r['tempIdentity']);
  const download = r['download'];
  const synced = count(r['bytesSynced']);
  return {
    url,
    tempName,
    bytesTotal: total,
    bytesReceived: received,
    bytesSynced: synced === null ? received : Math.min(synced, received),
    tempIdentity: identity !== null && /^\d+:\d+$/.test(identity) ? identity : null,
    download: typeof download === 'object' && download !== null && !Array.isArray(download) ? (download as EngineState) : {},
  };
}

export function readUploadState(raw: EngineState | null | undefined): UploadState {
  if (!raw || raw['format'] !== FORMAT) return INITIAL_STATE;
  const sessionIdRaw = str(raw['sessionId']);
  const sessionId = sessionIdRaw !== null && isValidSessionId(sessionIdRaw) ? sessionIdRaw : null;
  const phaseRaw = str(raw['phase']);
  let phase: UploadPhase = (UPLOAD_PHASES as readonly string[]).includes(phaseRaw ?? '') ? (phaseRaw as UploadPhase) : 'uploading';
  const reply = readReply(raw['reply']);
  // A reply phase without its URL cannot continue; the final fragment must be acknowledged again.
  if (phase === 'reply' && reply === null) phase = 'uploading';
  const hostIdRaw = str(raw['hostId']);
  const hostId = hostIdRaw !== null && isValidHostId(hostIdRaw) ? hostIdRaw : null;
  const fragmentSize = count(raw['fragmentSize']);
  return {
    phase,
    sessionId,
    fileSize: count(raw['fileSize']),
    fileMtimeMs: finite(raw['fileMtimeMs']),
    fragmentSize: fragmentSize !== null && fragmentSize > 0 ? fragmentSize : null,
    hostId,
    hostIdFallbackSec: hostId === null ? null : count(raw['hostIdFallbackSec']),
    hostIdFailingSince: hostId === null ? null : finite(raw['hostIdFailingSince']),
    reply,
    // Only meaningful while Close-Session is owed for this session.
    closeFailingSince: sessionId === null ? null : finite(raw['closeFailingSince']),
  };
}

export function writeUploadState(state: UploadState): EngineState {
  return {
    format: FORMAT,
    phase: state.phase,
    sessionId: state.sessionId,
    fileSize: state.fileSize,
    fileMtimeMs: state.fileMtimeMs,
    fragmentSize: state.fragmentSize,
    hostId: state.hostId,
    hostIdFallbackSec: state.hostIdFallbackSec,
    hostIdFailingSince: state.hostIdFailingSince,
    reply: state.reply === null ? null : { ...state.reply },
    closeFailingSince: state.closeFailingSince,
  };
}

/** Whether a Cancel-Session is owed: a session exists and was not closed. */
export function sessionOpen(state: UploadState): boolean {
  return state.sessionId !== null && state.phase !== 'closed';
}
