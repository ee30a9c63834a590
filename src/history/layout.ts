/**
 * The history file's fixed layout (docs/history.md has the same table and
 * the size formula). Pure: offsets and sizes, and the file header.
 *
 *   file   = header (4096 B) + capacity / CHUNK_HOSTS chunks
 *   chunk  = CHUNK_HOSTS × open buckets, then CHUNK_HOSTS × blocks
 *   open   = per group: lastSampleMs, cur[tier], first[tier]            (f64)
 *          + per tier and metric: sum, count, min, max                  (f64)
 *   block  = host header (320 B)
 *          + per group and tier: ROWS rows of the group's series   (binary16)
 *
 * The open buckets are what every report changes: the master keeps them in
 * its own memory and writes them here as a checkpoint (a chunk's hosts in
 * one write), so a report never touches a page of the file. The blocks hold
 * what is closed: the rings, written as buckets close (in batches).
 *
 * Little-endian (the machine's: the file is this master's own, never
 * copied to another architecture). All f64 fields are 8-byte aligned.
 */
import { GROUPS, METRICS, SERIES } from "./metrics.ts";

/** A consolidation tier: `rows` points of `stepS` seconds each (a ring: the newest overwrites the oldest). */
export interface Tier {
  name: string;
  stepS: number;
  rows: number;
}

/**
 * About 250 points per tier, like Ganglia's RRAs: 1 hour of 15 s, 1 day of
 * 6 min, 1 week of 42 min, 30 days of 3 h, 360 days of 36 h. Every step is
 * a multiple of the first: tier 0 takes the reports, the others are folded
 * from its closed buckets (one accumulation per report, not five).
 */
export const ROWS = 240;
export const TIERS: readonly Tier[] = [
  { name: "1h", stepS: 15, rows: ROWS },
  { name: "1d", stepS: 360, rows: ROWS },
  { name: "1w", stepS: 2520, rows: ROWS },
  { name: "1mo", stepS: 10_800, rows: ROWS },
  { name: "1y", stepS: 129_600, rows: ROWS },
];
export const TIER_COUNT = TIERS.length;
export const STEP_MS: readonly number[] = TIERS.map((t) => t.stepS * 1000);

export const MAGIC = "LAVAHIS1";
/**
 * 3: accumulators tier-major (a report's tier-0 sums are a few contiguous
 * cache lines) and rings row-major per group (closing a bucket writes one
 * row of the group's series, as rrdtool's rows: one cache line, not twenty).
 * 4: the open buckets out of the blocks, in a region per chunk of hosts
 * (checkpointed in bulk from the master's memory; the blocks take only
 * closed rows).
 */
export const VERSION = 4;
export const HEADER_BYTES = 4096;

/** Hosts per chunk: the file grows by whole chunks, so its capacity is a multiple of this. */
export const CHUNK_HOSTS = 64;

/** Host header: hostId u32, nameLen u32, createdMs f64, reserved to 64, then the name (≤ 255 bytes of UTF-8). */
export const HOST_HEADER_BYTES = 320;
export const NAME_OFFSET = 64;
export const NAME_BYTES_MAX = 255;

/** Per group: lastSampleMs, then cur (bucket number) per tier, then first (bucket number) per tier. */
export const GROUP_STATE_F64 = 1 + 2 * TIER_COUNT;
export const ACC_F64 = 4; // sum, count, min, max
/** Byte offset of the accumulators in a host's open buckets (after every group's state). */
export const ACC_OFFSET = GROUPS * GROUP_STATE_F64 * 8;
/** One host's open buckets: its groups' state and every tier's accumulators, rounded up to a cache line. */
export const OPEN_BYTES = roundUp(ACC_OFFSET + METRICS.length * TIER_COUNT * ACC_F64 * 8, 64);

/** binary16 per stored value. */
export const VALUE_BYTES = 2;
export const RING_OFFSET = HOST_HEADER_BYTES;
const RINGS_BYTES = SERIES.length * TIER_COUNT * ROWS * VALUE_BYTES;

/** Series of each group, and each series' column in its group's rows. */
export const GROUP_SERIES: readonly number[] = Array.from({ length: GROUPS }, (_, g) => SERIES.filter((x) => METRICS[x.metric]!.group === g).length);
export const SERIES_COLUMN: readonly number[] = SERIES.map((x, i) => SERIES.slice(0, i).filter((y) => METRICS[y.metric]!.group === METRICS[x.metric]!.group).length);
/** Byte offset (in a block) of group g's rows of tier k: groups one after the other, each tier by tier. */
export function ringOffset(group: number, tier: number): number {
  let off = RING_OFFSET;
  for (let g = 0; g < group; g++) off += GROUP_SERIES[g]! * TIER_COUNT * ROWS * VALUE_BYTES;
  return off + tier * GROUP_SERIES[group]! * ROWS * VALUE_BYTES;
}
/** One host's block: its header and its rings, rounded up to a cache line. */
export const BLOCK_BYTES = roundUp(RING_OFFSET + RINGS_BYTES, 64);
/** What one host takes in the file: its open buckets and its block. */
export const HOST_BYTES = OPEN_BYTES + BLOCK_BYTES;
const CHUNK_BYTES = CHUNK_HOSTS * HOST_BYTES;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Bytes of the file for `capacity` hosts (a multiple of CHUNK_HOSTS; the size formula of docs/history.md). */
export const fileBytes = (capacity: number): number => HEADER_BYTES + capacity * HOST_BYTES;

/** Hosts a file of `bytes` bytes has room for (whole chunks). */
export const capacityOf = (bytes: number): number => Math.max(0, Math.floor((bytes - HEADER_BYTES) / CHUNK_BYTES)) * CHUNK_HOSTS;

/** File offset of host slot `block`'s open buckets; those of one chunk are contiguous, in slot order. */
export const openOffset = (block: number): number => HEADER_BYTES + Math.floor(block / CHUNK_HOSTS) * CHUNK_BYTES + (block % CHUNK_HOSTS) * OPEN_BYTES;

/** File offset of host slot `block`'s block (header and rings). */
export const blockOffset = (block: number): number => HEADER_BYTES + Math.floor(block / CHUNK_HOSTS) * CHUNK_BYTES + CHUNK_HOSTS * OPEN_BYTES + (block % CHUNK_HOSTS) * BLOCK_BYTES;

/**
 * Bytes one host's load report fields take (host header, the report
 * group's state, its accumulators and its rings): the ≤ 64 KiB target.
 */
export function reportBytesPerHost(): number {
  const metrics = METRICS.filter((x) => x.group === 0);
  const series = SERIES.filter((s) => METRICS[s.metric]!.group === 0).length;
  return HOST_HEADER_BYTES + GROUP_STATE_F64 * 8 + metrics.length * TIER_COUNT * ACC_F64 * 8 + series * TIER_COUNT * ROWS * VALUE_BYTES;
}

/** A text that changes whenever the layout does: stored in the header, compared on open. */
export const FINGERPRINT = [
  `v${VERSION}`,
  `block=${BLOCK_BYTES}`,
  `open=${OPEN_BYTES}`,
  `chunk=${CHUNK_HOSTS}`,
  `tiers=${TIERS.map((t) => `${t.stepS}x${t.rows}`).join(",")}`,
  `series=${SERIES.map((s) => `${METRICS[s.metric]!.name}.${s.cf}`).join(",")}`,
  `groups=${METRICS.map((x) => x.group).join("")}`,
].join(";");

// Header fields (byte offsets).
const H_MAGIC = 0;
const H_VERSION = 8;
const H_HEADER_BYTES = 12;
const H_BLOCK_BYTES = 16;
const H_CAPACITY = 20;
const H_CREATED_MS = 24;
const H_FP_LEN = 32;
const H_FP = 64;

/** The file's header, as bytes to write at offset 0. */
export function headerBytes(capacity: number, createdMs: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(bytes.buffer);
  new TextEncoder().encodeInto(MAGIC, bytes.subarray(H_MAGIC, H_MAGIC + 8));
  dv.setUint32(H_VERSION, VERSION, true);
  dv.setUint32(H_HEADER_BYTES, HEADER_BYTES, true);
  dv.setUint32(H_BLOCK_BYTES, BLOCK_BYTES, true);
  dv.setUint32(H_CAPACITY, capacity, true);
  dv.setFloat64(H_CREATED_MS, createdMs, true);
  const fp = new TextEncoder().encode(FINGERPRINT);
  if (H_FP + fp.length > HEADER_BYTES) throw new Error("history layout fingerprint does not fit the header");
  dv.setUint32(H_FP_LEN, fp.length, true);
  bytes.set(fp, H_FP);
  return bytes;
}

/** The header's capacity field, as bytes to write at `CAPACITY_OFFSET`. */
export const CAPACITY_OFFSET = H_CAPACITY;
export function capacityBytes(capacity: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, capacity, true);
  return b;
}

/** The capacity a file's header declares, or why the file is not one this build can use. */
export function readHeader(bytes: Uint8Array): { capacity: number; createdMs: number } | { error: string } {
  if (bytes.length < HEADER_BYTES) return { error: `shorter than its ${HEADER_BYTES}-byte header` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const magic = new TextDecoder().decode(bytes.subarray(H_MAGIC, H_MAGIC + 8));
  if (magic !== MAGIC) return { error: "not a lava history file (bad magic)" };
  const fpLen = dv.getUint32(H_FP_LEN, true);
  const fp = fpLen <= HEADER_BYTES - H_FP ? new TextDecoder().decode(bytes.subarray(H_FP, H_FP + fpLen)) : "";
  if (dv.getUint32(H_VERSION, true) !== VERSION || dv.getUint32(H_BLOCK_BYTES, true) !== BLOCK_BYTES || fp !== FINGERPRINT) {
    return { error: "written by a lava with another history layout" };
  }
  const capacity = dv.getUint32(H_CAPACITY, true);
  if (capacity % CHUNK_HOSTS !== 0) return { error: `capacity ${capacity} is not a multiple of ${CHUNK_HOSTS}` };
  if (bytes.length < fileBytes(capacity)) return { error: `${bytes.length} bytes, shorter than the ${fileBytes(capacity)} its header declares` };
  return { capacity, createdMs: dv.getFloat64(H_CREATED_MS, true) };
}
