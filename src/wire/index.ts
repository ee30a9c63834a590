/**
 * LIM v1 wire codec: pure functions, no I/O, no clock, no randomness.
 * Byte layouts, drop reasons and golden vectors: docs/protocol.md.
 */
export {
  OP,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  REPORT_PAYLOAD_BYTES,
  AUTH_BLOCK_BYTES,
  TAG_BYTES,
  FLAG_AUTH,
  ANNOUNCE_FIXED_BYTES,
  AUTH_HOST_ID_OFFSET,
  AUTH_SEQ_OFFSET,
  AUTH_TAG_OFFSET,
  AUTH_END_OFFSET,
  DROP_REASONS,
  type DropReason,
  type OpCode,
} from "./constants.ts";
export { encodeHeader } from "./header.ts";
export { verifyTag, writeTag, type AuthBlock, type AuthParams } from "./auth.ts";
export {
  encodeReport,
  checkReportPayload,
  readReportPayload,
  emptyReport,
  REPORT_FIELDS,
  REPORT_VEC_FIELDS,
  REPORT_STAT_FIELDS,
  REPORT_LIMITS,
  type LoadReport,
} from "./report.ts";
export {
  encodeAnnounce,
  maxAnnounceBitmapBytes,
  isHostPort,
  ANNOUNCE_LIMITS,
  type Announce,
  type DecodedAnnounce,
} from "./announce.ts";
export {
  encodeSync,
  sessionTag,
  SYNC_FIXED_BYTES,
  SYNC_RECORD_BYTES,
  SYNC_RECORDS_MAX,
  type SyncHeader,
  type SyncRecord,
  type DecodedSync,
} from "./sync.ts";
export { decodeDatagram, checkReportDatagram, NOT_A_REPORT, type Decoded } from "./decode.ts";
export { encodeFrame, splitFrames, TCP_LENGTH_PREFIX_BYTES, type FrameSplit } from "./tcp.ts";
