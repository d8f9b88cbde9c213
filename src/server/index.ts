/** The reference BITS upload server (tests, demos, benchmarks). See docs/bits-server.md. */
export { type BitsServer, type BitsServerOptions, SINK_PATH, startBitsServer } from './start-server.js';
export { BITS_SINK_PREFIX, type ReplyHandler, type ReplyResult, REPLY_PREFIX } from './bits-packets.js';
export { BITS_PROTOCOL_GUID } from './bits-ack.js';
export {
  type ErrorCodeSpec,
  type Fault,
  type FaultPlan,
  type FaultRule,
  type FaultTarget,
  FAULT_TARGETS,
  type PacketKind,
  PACKET_KINDS,
  parseFaultPlan,
} from './faults.js';
export type { Outcome, PacketLogEntry, RequestLogEntry, ServerStats } from './server-log.js';
export type { SessionInfo } from './upload-sessions.js';
export type { FragmentRange } from './ranges.js';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-reader.js';
