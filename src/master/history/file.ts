/**
 * The master's load history (docs/history.md): one memory-mapped file in
 * the data dir, `history.lava`, with a fixed block per host, fed by every
 * accepted load report and every telemetry message. Soft state, like live
 * load: never replicated through Raft, kept across a restart of this
 * master (the pages are the file's), started afresh by a master that
 * never led. The consolidation itself is the pure core in src/history.
 */
import { closeSync } from "node:fs";
import { join } from "node:path";
import { BLOCK_BYTES, GROUP_REPORT, GROUP_TELEMETRY, HEADER_BYTES, HistoryCore, METRICS, fileBytes, readHeader, setCapacity, writeHeader, type Cf, type SeriesRead } from "../../history/index.ts";
import { logger } from "../../log/index.ts";
import type { HostEntry } from "../hosts/table.ts";
import { ensureSize, mapFile, moveAside, openPrivate, writeZeros } from "../mapped-file.ts";
import { SlotIndex } from "../slot-index.ts";

const log = logger("history");

export const HISTORY_FILE = "history.lava";
/** Blocks in a new file; the file doubles when they are all taken. */
const INITIAL_CAPACITY = 64;
/** Hosts at most (a bound on the file: 100,000 × ~76 KiB ≈ 7.3 GiB). */
export const HISTORY_HOSTS_MAX = 100_000;

export interface HistoryOptions {
  dataDir: string;
  nowMs: number;
  /** Reports further apart than this leave a gap between them (3.5 report intervals: when a host turns unavail). */
  reportHeartbeatMs: number;
}

export class HistoryFile {
  readonly path: string;
  private core: HistoryCore;
  private bytes: Uint8Array;
  private readonly blocks = new SlotIndex();
  private readonly free: number[] = [];
  /** The report's values in REPORT_METRICS order, reused for every report (no allocation on the hot path). */
  private readonly scratch = new Float64Array(METRICS.filter((m) => m.group === GROUP_REPORT).length);
  private readonly reportHeartbeatMs: number;
  /** Samples refused (older than their bucket: the clock went back) and hosts not kept (over HISTORY_HOSTS_MAX). */
  readonly counters = { refused: 0, hostsNotKept: 0 };

  private fd: number;

  constructor(opts: HistoryOptions) {
    this.path = join(opts.dataDir, HISTORY_FILE);
    this.reportHeartbeatMs = opts.reportHeartbeatMs;
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
      writeZeros(this.fd, 0, HEADER_BYTES);
      ensureSize(this.fd, fileBytes(INITIAL_CAPACITY));
      this.bytes = mapFile(this.path);
      writeHeader(this.bytes, INITIAL_CAPACITY, opts.nowMs);
    } else this.bytes = mapFile(this.path);
    this.core = new HistoryCore(this.bytes);
    for (let b = 0; b < this.core.capacity; b++) {
      const id = this.core.hostIdOf(b);
      if (id === 0 || this.blocks.has(id)) this.free.push(b);
      else this.blocks.set(id, b);
    }
    this.free.reverse(); // lowest first
    log.info(`${this.path}: history of ${this.blocks.size} host(s), room for ${this.core.capacity} (${Math.round(this.bytes.byteLength / 2 ** 20)} MiB)`);
  }

  /** Stops using the file (the pages are the file's: nothing to flush by hand). */
  close(): void {
    closeSync(this.fd);
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

  /** Every accepted load report: the hot path (one accumulation per metric). */
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
    if (this.free.length === 0) {
      const cap = this.core.capacity;
      if (cap >= HISTORY_HOSTS_MAX) return this.notKept(`${HISTORY_HOSTS_MAX} hosts already`);
      const next = Math.min(HISTORY_HOSTS_MAX, cap * 2);
      ensureSize(this.fd, fileBytes(next));
      this.bytes = mapFile(this.path);
      setCapacity(this.bytes, next);
      this.core = new HistoryCore(this.bytes);
      for (let b = next - 1; b >= cap; b--) this.free.push(b);
      log.info(`${this.path}: grown to room for ${next} hosts (${Math.round(this.bytes.byteLength / 2 ** 20)} MiB)`);
    }
    const b = this.free[this.free.length - 1]!;
    try {
      // Allocated by write(2) first: a full disk is an error here, not a SIGBUS later (mapped-file.ts).
      writeZeros(this.fd, fileBytes(b), BLOCK_BYTES);
    } catch (e) {
      return this.notKept(`cannot allocate ${BLOCK_BYTES} bytes in ${this.path}: ${(e as Error).message}`);
    }
    this.free.pop();
    this.core.initBlock(b, hostId, hostname, nowMs);
    this.blocks.set(hostId, b);
    return b;
  }

  private notKept(why: string): number {
    if (this.counters.hostsNotKept++ % 1000 === 0) log.warn(`history: no history for a new host: ${why}`);
    return -1;
  }
}
