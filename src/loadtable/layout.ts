/**
 * The shared-memory load table (docs/history.md "The load table"): the
 * master's live host table as a memory-mapped file with a fixed layout, so
 * a process on the master's machine reads every host's load with no HTTP
 * and no copy. Pure: offsets, and the writer's and reader's halves of the
 * per-record seqlock, on whatever bytes the caller mapped.
 *
 * Seqlock: a record's `seq` is odd while the master writes it. A reader
 * reads `seq`, the fields, then `seq` again, and keeps what it read only if
 * both were the same even number; otherwise it reads again. The writer is
 * one thread (the master's), so writers never contend.
 *
 * Little-endian (the machine's: the file never leaves it).
 */
import { REPORT_FIELDS, type LoadReport } from "../wire/index.ts";
import { HOST_STATES, type HostState } from "../control/host-states.ts";

/** The file's name in the master's data dir. */
export const LOAD_TABLE_FILE = "load.table";
export const MAGIC = "LAVALOAD";
export const VERSION = 1;
export const HEADER_BYTES = 4096;
export const RECORD_BYTES = 448;
export const NAME_BYTES_MAX = 255;

/** State codes in records: a state's index in HOST_STATES (design §3's order). */
export const STATE_NAMES = HOST_STATES;
export type StateName = HostState;

export const FLAG_HAS_REPORT = 1;
export const FLAG_CONNECTED = 2;
export const FLAG_DRAINED = 4;

// Header (byte offsets).
const H_MAGIC = 0;
const H_VERSION = 8;
const H_HEADER_BYTES = 12;
const H_RECORD_BYTES = 16;
const H_CAPACITY = 20;
/** Records [0, count) may be in use; beyond it all are empty. */
const H_COUNT = 24;
/** 1 once a newer file replaced this one (it grew, or the master restarted): readers open the path again. */
const H_SUPERSEDED = 28;
/** The master's heartbeat: it writes this every second. */
const H_UPDATED_MS = 32;
const H_REPORT_INTERVAL_MS = 40;
const H_UNAVAIL_AFTER_MS = 48;
const H_PID = 56;
const H_NODE_ID = 60;

// Record (byte offsets within it).
const R_SEQ = 0;
const R_HOST_ID = 4;
const R_STATE = 8;
const R_FLAGS = 9;
const R_NAME_LEN = 10;
const R_NCPUS_HW = 12;
const R_LAST_REPORT_MS = 16;
const R_MEM_BYTES_HW = 24;
const R_REPORT = 32; // 15 × f64, REPORT_FIELDS order
const R_RECEIVED = R_REPORT + 8 * REPORT_FIELDS.length; // 152
const R_LOST = R_RECEIVED + 8;
const R_WRITTEN_MS = R_LOST + 8;
const R_NAME = 176;

export interface TableHeader {
  capacity: number;
  count: number;
  superseded: boolean;
  updatedAtMs: number;
  reportIntervalMs: number;
  unavailAfterMs: number;
  pid: number;
  nodeId: number;
}

/** One host as a record holds it. */
export interface TableRecord {
  hostId: number;
  hostname: string;
  state: StateName;
  hasReport: boolean;
  connected: boolean;
  drained: boolean;
  ncpusHw: number;
  memBytesHw: number;
  lastReportMs: number;
  report: LoadReport;
  reportsReceived: number;
  reportsLost: number;
  /** When the master last wrote this record. */
  writtenMs: number;
}

export const fileBytes = (capacity: number) => HEADER_BYTES + capacity * RECORD_BYTES;

/** Typed views over the mapped bytes (made once per mapping). */
export class TableView {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
  private copy: TableView | null = null;
  constructor(bytes: Uint8Array) {
    this.u8 = bytes;
    this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** A record-sized private buffer a reader copies a record into (made on first use). */
  get scratch(): TableView {
    return (this.copy ??= new TableView(new Uint8Array(RECORD_BYTES)));
  }
}

export function writeHeader(v: TableView, h: Omit<TableHeader, "count" | "superseded" | "updatedAtMs">): void {
  v.u8.fill(0, 0, HEADER_BYTES);
  new TextEncoder().encodeInto(MAGIC, v.u8.subarray(H_MAGIC, H_MAGIC + 8));
  v.dv.setUint32(H_VERSION, VERSION, true);
  v.dv.setUint32(H_HEADER_BYTES, HEADER_BYTES, true);
  v.dv.setUint32(H_RECORD_BYTES, RECORD_BYTES, true);
  v.dv.setUint32(H_CAPACITY, h.capacity, true);
  v.dv.setFloat64(H_REPORT_INTERVAL_MS, h.reportIntervalMs, true);
  v.dv.setFloat64(H_UNAVAIL_AFTER_MS, h.unavailAfterMs, true);
  v.dv.setUint32(H_PID, h.pid, true);
  v.dv.setUint32(H_NODE_ID, h.nodeId, true);
}

export function setCount(v: TableView, count: number): void {
  Atomics.store(v.u32, H_COUNT >>> 2, count);
}
export function setSuperseded(v: TableView): void {
  Atomics.store(v.u32, H_SUPERSEDED >>> 2, 1);
}
export function setUpdated(v: TableView, ms: number): void {
  v.f64[H_UPDATED_MS >>> 3] = ms;
}

export function readHeader(v: TableView): TableHeader | { error: string } {
  if (v.u8.length < HEADER_BYTES) return { error: `shorter than its ${HEADER_BYTES}-byte header` };
  if (new TextDecoder().decode(v.u8.subarray(H_MAGIC, H_MAGIC + 8)) !== MAGIC) return { error: "not a lava load table (bad magic)" };
  if (v.dv.getUint32(H_VERSION, true) !== VERSION || v.dv.getUint32(H_RECORD_BYTES, true) !== RECORD_BYTES) return { error: "written by a lava with another load table layout" };
  const capacity = v.dv.getUint32(H_CAPACITY, true);
  if (v.u8.length < fileBytes(capacity)) return { error: "shorter than its header says" };
  return {
    capacity,
    count: Math.min(capacity, Atomics.load(v.u32, H_COUNT >>> 2)),
    superseded: Atomics.load(v.u32, H_SUPERSEDED >>> 2) !== 0,
    updatedAtMs: v.f64[H_UPDATED_MS >>> 3]!,
    reportIntervalMs: v.f64[H_REPORT_INTERVAL_MS >>> 3]!,
    unavailAfterMs: v.f64[H_UNAVAIL_AFTER_MS >>> 3]!,
    pid: v.dv.getUint32(H_PID, true),
    nodeId: v.dv.getUint32(H_NODE_ID, true),
  };
}

const recBase = (slot: number) => HEADER_BYTES + slot * RECORD_BYTES;

// ---- the writer's half ------------------------------------------------------

/** Opens a record for writing (its seq turns odd). Pair with endWrite. */
export function beginWrite(v: TableView, slot: number): number {
  const i = (recBase(slot) + R_SEQ) >>> 2;
  Atomics.add(v.u32, i, 1);
  return recBase(slot);
}
export function endWrite(v: TableView, slot: number): void {
  Atomics.add(v.u32, (recBase(slot) + R_SEQ) >>> 2, 1);
}

/** Writes a host's identity (a new record, or a name change); inside beginWrite/endWrite. */
export function writeIdentity(v: TableView, base: number, hostId: number, hostname: string, ncpusHw: number, memBytesHw: number): void {
  v.u32[(base + R_HOST_ID) >>> 2] = hostId;
  const r = new TextEncoder().encodeInto(hostname, v.u8.subarray(base + R_NAME, base + R_NAME + NAME_BYTES_MAX));
  v.dv.setUint16(base + R_NAME_LEN, r.written, true);
  v.u32[(base + R_NCPUS_HW) >>> 2] = ncpusHw;
  v.f64[(base + R_MEM_BYTES_HW) >>> 3] = memBytesHw;
}

/** The state byte and flags; inside beginWrite/endWrite. */
export function writeState(v: TableView, base: number, state: number, flags: number, writtenMs: number): void {
  v.u8[base + R_STATE] = state;
  v.u8[base + R_FLAGS] = flags;
  v.f64[(base + R_WRITTEN_MS) >>> 3] = writtenMs;
}

/** A load report and its counters (the hot path: no allocation); inside beginWrite/endWrite. */
export function writeReport(v: TableView, base: number, r: LoadReport, lastReportMs: number, received: number, lost: number): void {
  const f = v.f64;
  const i = (base + R_REPORT) >>> 3;
  f[i] = r.load1;
  f[i + 1] = r.load5;
  f[i + 2] = r.load15;
  f[i + 3] = r.memUsed;
  f[i + 4] = r.memFree;
  f[i + 5] = r.swapUsed;
  f[i + 6] = r.swapFree;
  f[i + 7] = r.ncpus;
  f[i + 8] = r.cpuUser;
  f[i + 9] = r.cpuSys;
  f[i + 10] = r.cpuIdle;
  f[i + 11] = r.jobsRunning;
  f[i + 12] = r.jobsPending;
  f[i + 13] = r.procsTotal;
  f[i + 14] = r.flags;
  f[(base + R_LAST_REPORT_MS) >>> 3] = lastReportMs;
  f[(base + R_RECEIVED) >>> 3] = received;
  f[(base + R_LOST) >>> 3] = lost;
}

/** Empties a record (a removed host). */
export function clearRecord(v: TableView, slot: number): void {
  const base = beginWrite(v, slot);
  v.u8.fill(0, base + 4, base + RECORD_BYTES);
  endWrite(v, slot);
}

// ---- the reader's half ------------------------------------------------------

/** Reads spun before a reader starts pausing between tries (a write takes ~50 ns). */
export const READ_SPINS = 1000;
/** Pauses before a reader gives up: the writer was preempted in the middle of a write for that long. */
export const READ_PAUSES_MAX = 2000;

/**
 * One record, consistent (the same even seq before and after), or null if
 * the slot is empty; "busy" if it stayed in the middle of a write through
 * READ_SPINS tries and READ_PAUSES_MAX calls of `pause` (the caller's
 * sleep, e.g. 1 ms: the writer may be descheduled mid-write; without one,
 * "busy" comes after the spins).
 */
export function readRecord(v: TableView, slot: number, pause: (() => void) | null = null): TableRecord | null | "busy" {
  const base = recBase(slot);
  const seqAt = (base + R_SEQ) >>> 2;
  // The critical section is a 448-byte copy (tens of ns), decoded after the seq check: a reader
  // that decoded in place would take long enough for a hot record to keep changing under it.
  const copy = v.scratch;
  const tries = READ_SPINS + (pause ? READ_PAUSES_MAX : 0);
  for (let t = 0; t < tries; t++) {
    if (t >= READ_SPINS) pause!();
    const s1 = Atomics.load(v.u32, seqAt);
    if (s1 & 1) continue;
    copy.u8.set(v.u8.subarray(base, base + RECORD_BYTES));
    if (Atomics.load(v.u32, seqAt) === s1) return decode(copy, 0);
  }
  return "busy";
}

function decode(v: TableView, base: number): TableRecord | null {
  const hostId = v.u32[(base + R_HOST_ID) >>> 2]!;
  if (hostId === 0) return null;
  const f = v.f64;
  const i = (base + R_REPORT) >>> 3;
  const report = {} as LoadReport;
  REPORT_FIELDS.forEach((k, j) => (report[k] = f[i + j]!));
  const nameLen = Math.min(NAME_BYTES_MAX, v.dv.getUint16(base + R_NAME_LEN, true));
  const flags = v.u8[base + R_FLAGS]!;
  return {
    hostId,
    // A torn name decodes to garbage, never throws; the seq check throws the whole read away then.
    hostname: new TextDecoder().decode(v.u8.subarray(base + R_NAME, base + R_NAME + nameLen)),
    state: STATE_NAMES[v.u8[base + R_STATE]!] ?? "unavail",
    hasReport: (flags & FLAG_HAS_REPORT) !== 0,
    connected: (flags & FLAG_CONNECTED) !== 0,
    drained: (flags & FLAG_DRAINED) !== 0,
    ncpusHw: v.u32[(base + R_NCPUS_HW) >>> 2]!,
    memBytesHw: f[(base + R_MEM_BYTES_HW) >>> 3]!,
    lastReportMs: f[(base + R_LAST_REPORT_MS) >>> 3]!,
    report,
    reportsReceived: f[(base + R_RECEIVED) >>> 3]!,
    reportsLost: f[(base + R_LOST) >>> 3]!,
    writtenMs: f[(base + R_WRITTEN_MS) >>> 3]!,
  };
}

/** The state a reader shows: the master's, or unavail once the last report is older than the master's own rule. */
export function stateAt(rec: TableRecord, h: TableHeader, nowMs: number): StateName {
  if (!rec.hasReport || nowMs - rec.lastReportMs > h.unavailAfterMs) return "unavail";
  return rec.state;
}
