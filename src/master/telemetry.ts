/**
 * The latest telemetry of each host (docs/api.md "Telemetry"), in memory
 * only: never written durably, gone with a restart (the next message, within
 * a minute, brings it back). Its numeric parts also go into the load
 * history. Bounded: one message (≤ 64 KiB) per registered host.
 */
import { TELEMETRY_METRICS } from "../history/index.ts";
import type { Telemetry } from "../control/index.ts";
import type { HistoryFile } from "./history/file.ts";

export interface TelemetryEntry {
  /** When this master received it (ms since the epoch). */
  receivedMs: number;
  msg: Telemetry;
}

/** How far apart two messages may be before the history shows a gap between them, in intervals. */
const HEARTBEAT_INTERVALS = 2.5;

export class TelemetryBook {
  private readonly latest = new Map<number, TelemetryEntry>();
  /** Messages taken (per host each replaces the one before). */
  received = 0;

  constructor(private readonly history: HistoryFile | null) {}

  onTelemetry(host: { hostId: number; hostname: string }, msg: Telemetry, nowMs: number): void {
    this.latest.set(host.hostId, { receivedMs: nowMs, msg });
    this.received++;
    this.history?.onTelemetry(host, telemetryValues(msg), nowMs, HEARTBEAT_INTERVALS * msg.intervalMs);
  }

  get(hostId: number): TelemetryEntry | undefined {
    return this.latest.get(hostId);
  }

  remove(hostId: number): void {
    this.latest.delete(hostId);
  }

  get size(): number {
    return this.latest.size;
  }
}

/**
 * The numeric parts history keeps, in TELEMETRY_METRICS order (NaN: the
 * part was not sent): network and disk rates summed over interfaces and
 * disks, the fullest filesystem's use, the GPUs' mean utilisation.
 */
export function telemetryValues(msg: Telemetry): Float64Array {
  const sum = <T>(xs: readonly T[] | undefined, f: (x: T) => number) => (xs ? xs.reduce((a, x) => a + f(x), 0) : NaN);
  const byName: Record<string, number> = {
    netRx: sum(msg.network, (n) => n.rxBytesPerSec),
    netTx: sum(msg.network, (n) => n.txBytesPerSec),
    diskRead: sum(msg.disks, (d) => d.readBytesPerSec),
    diskWrite: sum(msg.disks, (d) => d.writeBytesPerSec),
    fsUsed: msg.filesystems && msg.filesystems.length ? Math.max(...msg.filesystems.map((f) => (f.sizeBytes > 0 ? (100 * f.usedBytes) / f.sizeBytes : 0))) : NaN,
    gpuUtil: msg.gpus && msg.gpus.length ? sum(msg.gpus, (g) => g.utilPercent) / msg.gpus.length : NaN,
  };
  return Float64Array.from(TELEMETRY_METRICS, (m) => byName[m.name] ?? NaN);
}

