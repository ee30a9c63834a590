/**
 * The master's load history (docs/history.md): one file in the data dir,
 * `history.lava`, with a fixed place per host, fed by every accepted load
 * report and every telemetry message. Soft state, like live load: never
 * replicated through Raft, kept across a restart of this master, started
 * afresh by a master that never led. The consolidation itself is the pure
 * core in src/history.
 *
 * The file is mapped (shared) for reading; this process writes it only
 * with pwrite(2). Every report changes the host's open buckets, kept in
 * this process's memory (src/history/series.ts); closed rows and a
 * checkpoint of the open buckets reach the file when `tick` flushes the
 * host, each host once per flush interval, a slice of the hosts every
 * second. So a report never writes a page of the file: a write through a
 * shared mapping to a page the kernel has already written back faults
 * (~5 µs here), and the kernel writes dirty pages back every 30 s or so.
 * A crash or SIGKILL loses what came after each host's last flush (at most
 * a flush interval); `close` (a clean stop) flushes every host.
 */
import { closeSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  BLOCK_BYTES,
  CAPACITY_OFFSET,
  CHUNK_HOSTS,
  GROUP_REPORT,
  GROUP_TELEMETRY,
  HistoryCore,
  METRICS,
  OPEN_BYTES,
  blockOffset,
  capacityBytes,
  fileBytes,
  headerBytes,
  memoryBytesPerHost,
  openOffset,
  pendingRowsFor,
  readHeader,
  type Cf,
  type SeriesRead,
} from "../../history/index.ts";
import { logger } from "../../log/index.ts";
import type { HostEntry } from "../hosts/table.ts";
import { ensureSize, mapFile, moveAside, openPrivate, writeZeros } from "../mapped-file.ts";
import { SlotIndex } from "../slot-index.ts";

const log = logger("history");

export const HISTORY_FILE = "history.lava";
/** Host slots in a new file (one chunk); the file doubles when they are all taken. */
const INITIAL_CAPACITY = CHUNK_HOSTS;
/** Hosts at most (a bound on the file: 100,000 × ~76 KiB ≈ 7.3 GiB). */
export const HISTORY_HOSTS_MAX = 100_000;
/** Host slots at most: the hosts, rounded up to whole chunks. */
const CAPACITY_MAX = Math.ceil(HISTORY_HOSTS_MAX / CHUNK_HOSTS) * CHUNK_HOSTS;
/** How often `tick` runs (the master's timer): each tick flushes a slice of the hosts. */
export const HISTORY_TICK_MS = 1000;

export interface HistoryOptions {
  dataDir: string;
  nowMs: number;
  /** Reports further apart than this leave a gap between them (3.5 report intervals: when a host turns unavail). */
  reportHeartbeatMs: number;
  /** Each host's closed rows and open buckets reach the file at least this often (master.history.flushInterval). */
  flushIntervalMs: number;
}

export class HistoryFile {
  readonly path: string;
  private core: HistoryCore;
  private bytes: Uint8Array;
  private readonly blocks = new SlotIndex();
  private readonly free: number[] = [];
  /** Slots [0, used) may hold a host: what a flush goes over. */
  private used = 0;
  /** The next slot `tick` flushes. */
  private cursor = 0;
  /** Hosts due for a flush, with the fraction the last tick left. */
  private due = 0;
  /** The report's values in REPORT_METRICS order, reused for every report (no allocation on the hot path). */
  private readonly scratch = new Float64Array(METRICS.filter((m) => m.group === GROUP_REPORT).length);
  private readonly reportHeartbeatMs: number;
  private readonly flushIntervalMs: number;
  /**
   * Samples refused (older than their bucket: the clock went back), hosts not
   * kept (over HISTORY_HOSTS_MAX, or no room on the disk), writes that failed
   * (their rows are missing from the file), and flushes made.
   */
  readonly counters = { refused: 0, hostsNotKept: 0, writeErrors: 0, flushes: 0 };

  private fd: number;

  constructor(opts: HistoryOptions) {
    this.path = join(opts.dataDir, HISTORY_FILE);
    this.reportHeartbeatMs = opts.reportHeartbeatMs;
    this.flushIntervalMs = opts.flushIntervalMs;
    let file = openPrivate(this.path);
    let header = file.size === 0 ? null : readHeader(mapFile(this.path));
    if (header && "error" in header) {
      closeSync(file.fd);
      const old = moveAside(this.path);
      log.warn(`${this.path}: ${header.error}; moved it to ${old} and started a new history`);
      file = openPrivate(this.path);
      header = null;
    }
    this.fd = file.fd;
    if (!header) {
      this.pwrite(0, headerBytes(INITIAL_CAPACITY, opts.nowMs), true);
      ensureSize(this.fd, fileBytes(INITIAL_CAPACITY));
    }
    this.bytes = mapFile(this.path);
    this.core = new HistoryCore(this.bytes, { pendingRows: pendingRowsFor(this.flushIntervalMs), write: (offset, b) => this.pwrite(offset, b, false) });
    for (let b = 0; b < this.core.capacity; b++) {
      const id = this.core.hostIdOf(b);
      if (id === 0 || this.blocks.has(id)) this.free.push(b);
      else {
        this.blocks.set(id, b);
        this.used = b + 1;
      }
    }
    this.free.reverse(); // lowest first
    log.info(`${this.path}: history of ${this.blocks.size} host(s), room for ${this.core.capacity} (${Math.round(this.bytes.byteLength / 2 ** 20)} MiB); ${this.memoryBytes >> 20} MiB of memory; flushed every ${this.flushIntervalMs / 1000} s`);
  }

  /** Writes `b` at `offset`, all of it. Throws if `mustWork` (allocation: the caller says why); else counts the failure and goes on. */
  private pwrite(offset: number, b: Uint8Array, mustWork: boolean): void {
    try {
      for (let done = 0; done < b.length; ) done += writeSync(this.fd, b, done, b.length - done, offset + done);
    } catch (e) {
      if (mustWork) throw e;
      if (this.counters.writeErrors++ % 1000 === 0) log.error(`${this.path}: a write failed (${(e as Error).message}); history rows are missing from the file (${this.counters.writeErrors} so far)`);
    }
  }

  /** Writes every host's closed rows and open buckets (a clean stop loses nothing) and stops using the file. */
  close(): void {
    this.core.flush(0, this.used);
    this.counters.flushes++;
    closeSync(this.fd);
  }

  /**
   * Every HISTORY_TICK_MS: flushes the next slice of hosts, so each is
   * flushed once per flush interval (a few writes per host: its rows; the
   * open buckets of a chunk of hosts take one). The slice is
   * used × tick ÷ interval hosts, its fraction carried to the next tick:
   * with few hosts, a host is flushed once per interval too, not every tick.
   */
  tick(): void {
    if (this.used === 0) return;
    this.due = Math.min(this.used, this.due + (this.used * HISTORY_TICK_MS) / this.flushIntervalMs);
    let left = Math.floor(this.due);
    if (left === 0) return;
    this.due -= left;
    let from = this.cursor >= this.used ? 0 : this.cursor;
    while (left > 0) {
      const to = Math.min(this.used, from + left);
      this.core.flush(from, to);
      left -= to - from;
      from = to >= this.used ? 0 : to;
    }
    this.cursor = from;
    this.counters.flushes++;
  }

  get capacity(): number {
    return this.core.capacity;
  }
  get hosts(): number {
    return this.blocks.size;
  }
  get fileBytes(): number {
    return this.bytes.byteLength;
  }
  /** This process's memory the history takes (open buckets and pending rows of every slot). */
  get memoryBytes(): number {
    return this.core.capacity * memoryBytesPerHost(pendingRowsFor(this.flushIntervalMs));
  }
  /** Closed rows waiting for their flush (what a crash now would lose of the rings). */
  get pendingRows(): number {
    return this.core.pendingRowCount(0, this.used);
  }
  /** Writes to the file so far (system calls). */
  get writes(): number {
    return this.core.writes;
  }

  /** Every accepted load report: the hot path (one accumulation per metric, in memory). */
  onReport(host: HostEntry, nowMs: number): void {
    const r = host.report;
    if (!r) return;
    let b = this.blocks.get(host.hostId);
    if (b < 0) b = this.allocate(host.hostId, host.hostname, nowMs);
    if (b < 0) return;
    const v = this.scratch;
    // REPORT_METRICS order, spelt out: a property read by a computed key costs more on this path.
    v[0] = r.load1;
    v[1] = r.load5;
    v[2] = r.load15;
    v[3] = r.cpuUser;
    v[4] = r.cpuSys;
    v[5] = r.cpuIdle;
    v[6] = r.memUsed;
    v[7] = r.memFree;
    v[8] = r.swapUsed;
    v[9] = r.swapFree;
    v[10] = r.procsTotal;
    v[11] = r.jobsRunning;
    v[12] = r.jobsPending;
    if (!this.core.record(b, GROUP_REPORT, nowMs, v, this.reportHeartbeatMs)) this.counters.refused++;
  }

  /** The numeric parts of a telemetry message, in TELEMETRY_METRICS order (NaN: not measured). */
  onTelemetry(host: { hostId: number; hostname: string }, values: ArrayLike<number>, nowMs: number, heartbeatMs: number): void {
    let b = this.blocks.get(host.hostId);
    if (b < 0) b = this.allocate(host.hostId, host.hostname, nowMs);
    if (b < 0) return;
    if (!this.core.record(b, GROUP_TELEMETRY, nowMs, values, heartbeatMs)) this.counters.refused++;
  }

  /** A removed host's history goes with it (a host registered again under its name gets a new id). */
  remove(hostId: number): void {
    const b = this.blocks.get(hostId);
    if (b < 0) return;
    this.core.freeBlock(b);
    this.blocks.delete(hostId);
    this.free.push(b);
  }

  has(hostId: number): boolean {
    return this.blocks.has(hostId);
  }

  /** One host's series; null if this master keeps no history of it. */
  read(hostId: number, metric: number, cf: Cf, tier: number, fromMs: number, toMs: number): SeriesRead | null {
    const b = this.blocks.get(hostId);
    return b < 0 ? null : this.core.read(b, metric, cf, tier, fromMs, toMs);
  }

  private allocate(hostId: number, hostname: string, nowMs: number): number {
    if (this.blocks.size >= HISTORY_HOSTS_MAX) return this.notKept(`${HISTORY_HOSTS_MAX} hosts already`);
    if (this.free.length === 0) {
      const cap = this.core.capacity;
      const next = Math.min(CAPACITY_MAX, cap * 2);
      try {
        ensureSize(this.fd, fileBytes(next));
        this.pwrite(CAPACITY_OFFSET, capacityBytes(next), true);
      } catch (e) {
        return this.notKept(`cannot grow ${this.path} to ${next} hosts: ${(e as Error).message}`);
      }
      this.bytes = mapFile(this.path);
      this.core.remap(this.bytes);
      for (let b = next - 1; b >= cap; b--) this.free.push(b);
      log.info(`${this.path}: grown to room for ${next} hosts (${Math.round(this.bytes.byteLength / 2 ** 20)} MiB; ${this.memoryBytes >> 20} MiB of memory)`);
    }
    const b = this.free[this.free.length - 1]!;
    try {
      // Allocated by write(2) first: a full disk is an error here, not a failed write of rows later.
      writeZeros(this.fd, openOffset(b), OPEN_BYTES);
      writeZeros(this.fd, blockOffset(b), BLOCK_BYTES);
    } catch (e) {
      return this.notKept(`cannot allocate ${OPEN_BYTES + BLOCK_BYTES} bytes in ${this.path}: ${(e as Error).message}`);
    }
    this.free.pop();
    this.core.initBlock(b, hostId, hostname, nowMs);
    this.blocks.set(hostId, b);
    this.used = Math.max(this.used, b + 1);
    return b;
  }

  private notKept(why: string): number {
    if (this.counters.hostsNotKept++ % 1000 === 0) log.warn(`history: no history for a new host: ${why}`);
    return -1;
  }
}

