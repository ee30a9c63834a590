/**
 * SLAVE_REPORT payload (104 bytes): vec[11] f64 then stats[4] u32.
 * Units: load as /proc/loadavg; memory and swap in bytes; ncpus as a count
 * (may be fractional under a CPU quota); cpu* in percent of all CPUs over
 * the last report interval.
 */
import { assertU32 } from "./assert.ts";
import {
  AUTH_BLOCK_BYTES,
  AUTH_HOST_ID_OFFSET,
  AUTH_SEQ_OFFSET,
  FLAG_AUTH,
  HEADER_BYTES,
  OP,
  REPORT_PAYLOAD_BYTES,
  type DropReason,
} from "./constants.ts";
import { writeHeader } from "./header.ts";
import { writeTag, type AuthParams } from "./auth.ts";

export interface LoadReport {
  load1: number;
  load5: number;
  load15: number;
  memUsed: number;
  memFree: number;
  swapUsed: number;
  swapFree: number;
  ncpus: number;
  cpuUser: number;
  cpuSys: number;
  cpuIdle: number;
  jobsRunning: number;
  jobsPending: number;
  procsTotal: number;
  flags: number;
}

/** The 11 f64 fields, in wire order. */
export const REPORT_VEC_FIELDS = [
  "load1",
  "load5",
  "load15",
  "memUsed",
  "memFree",
  "swapUsed",
  "swapFree",
  "ncpus",
  "cpuUser",
  "cpuSys",
  "cpuIdle",
] as const satisfies readonly (keyof LoadReport)[];

/** The 4 u32 fields, in wire order, after the f64s. */
export const REPORT_STAT_FIELDS = ["jobsRunning", "jobsPending", "procsTotal", "flags"] as const satisfies readonly (keyof LoadReport)[];

/** All 15 fields in wire order. */
export const REPORT_FIELDS = [...REPORT_VEC_FIELDS, ...REPORT_STAT_FIELDS] as const satisfies readonly (keyof LoadReport)[];

/**
 * Plausibility bounds beyond "finite and non-negative"; a report outside
 * them is dropped as `bad_value`. Documented in docs/protocol.md.
 */
export const REPORT_LIMITS = {
  /** A load average counts tasks; Linux caps pids (hence tasks) at PID_MAX_LIMIT = 2^22. */
  loadMax: 4_194_304,
  /** Memory and swap bytes: 2^53 (8 PiB) keeps every value and sum exact. */
  memBytesMax: 2 ** 53,
  /** ncpus must be > 0 (the scheduler divides by it) and at most this. */
  ncpusMax: 65_536,
  /** Each of cpuUser, cpuSys, cpuIdle, and their sum, in percent; 0.5 slack for rounding. */
  cpuPctMax: 100.5,
} as const;

const VEC_BYTES = 8 * REPORT_VEC_FIELDS.length; // 88

/**
 * Encodes a SLAVE_REPORT datagram (116 bytes, or 148 with AUTH).
 * The f64 values are written verbatim, NaN and negatives included: they come
 * from the host, and the master's drop counters are where a broken reading
 * should show up, not a silent fix here. The u32 fields (and hostId, seq)
 * must be integers in 0..2^32-1, else RangeError (a bug in the caller).
 */
export function encodeReport(r: LoadReport, auth?: AuthParams): Uint8Array {
  for (const f of REPORT_STAT_FIELDS) assertU32(f, r[f]);
  if (auth) {
    assertU32("hostId", auth.hostId);
    assertU32("seq", auth.seq);
  }
  const authBytes = auth ? AUTH_BLOCK_BYTES : 0;
  const buf = new Uint8Array(HEADER_BYTES + authBytes + REPORT_PAYLOAD_BYTES);
  const dv = new DataView(buf.buffer);
  writeHeader(dv, OP.SLAVE_REPORT, authBytes + REPORT_PAYLOAD_BYTES, auth ? FLAG_AUTH : 0);
  if (auth) {
    dv.setUint32(AUTH_HOST_ID_OFFSET, auth.hostId, false);
    dv.setUint32(AUTH_SEQ_OFFSET, auth.seq, false);
  }
  writeReportPayload(dv, HEADER_BYTES + authBytes, r);
  if (auth) writeTag(buf, auth.key);
  return buf;
}

/** Writes the 104-byte payload at `p`, values verbatim (the u32 fields checked by the caller). */
export function writeReportPayload(dv: DataView, p: number, r: LoadReport): void {
  for (const f of REPORT_VEC_FIELDS) {
    dv.setFloat64(p, r[f], false);
    p += 8;
  }
  for (const f of REPORT_STAT_FIELDS) {
    dv.setUint32(p, r[f], false);
    p += 4;
  }
}

/** x is neither NaN nor ±Infinity (x - x is NaN exactly for those). */
function fin(x: number): boolean {
  return x - x === 0;
}

/**
 * Plausibility checks of the 104-byte payload at `p` (caller checked the
 * length), in order: non_finite (any f64), negative (any f64), bad_value
 * (REPORT_LIMITS). null when the payload passes. Allocates nothing.
 */
export function checkReportPayload(dv: DataView, p: number): DropReason | null {
  const load1 = dv.getFloat64(p, false);
  const load5 = dv.getFloat64(p + 8, false);
  const load15 = dv.getFloat64(p + 16, false);
  const memUsed = dv.getFloat64(p + 24, false);
  const memFree = dv.getFloat64(p + 32, false);
  const swapUsed = dv.getFloat64(p + 40, false);
  const swapFree = dv.getFloat64(p + 48, false);
  const ncpus = dv.getFloat64(p + 56, false);
  const cpuUser = dv.getFloat64(p + 64, false);
  const cpuSys = dv.getFloat64(p + 72, false);
  const cpuIdle = dv.getFloat64(p + 80, false);
  if (
    !(fin(load1) && fin(load5) && fin(load15) && fin(memUsed) && fin(memFree) && fin(swapUsed) &&
      fin(swapFree) && fin(ncpus) && fin(cpuUser) && fin(cpuSys) && fin(cpuIdle))
  ) {
    return "non_finite";
  }
  // -0 is not < 0, so it passes (and decodes as -0).
  if (
    load1 < 0 || load5 < 0 || load15 < 0 || memUsed < 0 || memFree < 0 || swapUsed < 0 ||
    swapFree < 0 || ncpus < 0 || cpuUser < 0 || cpuSys < 0 || cpuIdle < 0
  ) {
    return "negative";
  }
  const L = REPORT_LIMITS;
  if (
    load1 > L.loadMax || load5 > L.loadMax || load15 > L.loadMax ||
    memUsed > L.memBytesMax || memFree > L.memBytesMax || swapUsed > L.memBytesMax || swapFree > L.memBytesMax ||
    ncpus === 0 || ncpus > L.ncpusMax ||
    cpuUser > L.cpuPctMax || cpuSys > L.cpuPctMax || cpuIdle > L.cpuPctMax ||
    cpuUser + cpuSys + cpuIdle > L.cpuPctMax
  ) {
    return "bad_value";
  }
  return null;
}

/** A report with every field 0: the one object shape every LoadReport the codec fills has. */
export function emptyReport(): LoadReport {
  return {
    load1: 0, load5: 0, load15: 0, memUsed: 0, memFree: 0, swapUsed: 0, swapFree: 0, ncpus: 0,
    cpuUser: 0, cpuSys: 0, cpuIdle: 0, jobsRunning: 0, jobsPending: 0, procsTotal: 0, flags: 0,
  };
}

/**
 * Writes the payload at `p` into `out` and returns it, without checking it
 * (checkReportPayload first). Lets a receiver keep one report object per
 * host and overwrite it, instead of allocating one per datagram.
 */
export function readReportPayload(dv: DataView, p: number, out: LoadReport): LoadReport {
  out.load1 = dv.getFloat64(p, false);
  out.load5 = dv.getFloat64(p + 8, false);
  out.load15 = dv.getFloat64(p + 16, false);
  out.memUsed = dv.getFloat64(p + 24, false);
  out.memFree = dv.getFloat64(p + 32, false);
  out.swapUsed = dv.getFloat64(p + 40, false);
  out.swapFree = dv.getFloat64(p + 48, false);
  out.ncpus = dv.getFloat64(p + 56, false);
  out.cpuUser = dv.getFloat64(p + 64, false);
  out.cpuSys = dv.getFloat64(p + 72, false);
  out.cpuIdle = dv.getFloat64(p + 80, false);
  const s = p + VEC_BYTES;
  out.jobsRunning = dv.getUint32(s, false);
  out.jobsPending = dv.getUint32(s + 4, false);
  out.procsTotal = dv.getUint32(s + 8, false);
  out.flags = dv.getUint32(s + 12, false);
  return out;
}
