/**
 * The master's side of the shared-memory load table (src/loadtable,
 * docs/history.md): `<dataDir>/load.table`, written on every accepted
 * report and swept once a second for what changes without one (a host
 * registered, drained, disconnected, removed; the heartbeat). Soft state,
 * rebuilt at every start: a new file replaces the old one by rename, and
 * the old one is marked superseded so a reader that still maps it opens
 * the path again. The file only grows the same way.
 */
import { existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import {
  FLAG_CONNECTED,
  FLAG_DRAINED,
  FLAG_HAS_REPORT,
  LOAD_TABLE_FILE,
  STATE_NAMES,
  TableView,
  beginWrite,
  clearRecord,
  endWrite,
  fileBytes,
  readHeader,
  setCount,
  setSuperseded,
  setUpdated,
  writeHeader,
  writeIdentity,
  writeReport,
  writeState,
} from "../loadtable/layout.ts";
import { hostState, unavailAfterMs, type StatusPolicy } from "./hosts/status.ts";
import { sessionLoss, type HostEntry } from "./hosts/table.ts";
import { createMapped, mapFile } from "./mapped-file.ts";
import { SlotIndex } from "./slot-index.ts";
import { logger } from "../log/index.ts";

const log = logger("loadtable");

const INITIAL_CAPACITY = 1024;
/** Hosts at most (448 B each: 100,000 is 43 MiB). */
const CAPACITY_MAX = 100_000;

const STATE_CODE: Record<string, number> = Object.fromEntries(STATE_NAMES.map((s, i) => [s, i]));

export class LoadTableWriter {
  readonly path: string;
  private view: TableView;
  private readonly slots = new SlotIndex();
  private readonly free: number[] = [];
  /** Each record's flags as last written (this process's copy: the sweep compares against it). */
  private flags = new Uint8Array(INITIAL_CAPACITY);
  private count = 0;
  private capacity: number;
  private growFailures = 0;

  constructor(
    dataDir: string,
    private readonly policy: StatusPolicy,
    private readonly meta: { nodeId: number; pid: number },
  ) {
    this.path = join(dataDir, LOAD_TABLE_FILE);
    this.capacity = INITIAL_CAPACITY;
    this.view = this.replace(INITIAL_CAPACITY, null);
  }

  /** A new file of `capacity` records (with the records of `from`), renamed over the path; the old one is marked superseded. */
  private replace(capacity: number, from: TableView | null): TableView {
    const tmp = `${this.path}.tmp`;
    const v = new TableView(createMapped(tmp, fileBytes(capacity)));
    writeHeader(v, { capacity, reportIntervalMs: this.policy.reportIntervalMs, unavailAfterMs: unavailAfterMs(this.policy), pid: this.meta.pid, nodeId: this.meta.nodeId });
    if (from) v.u8.set(from.u8.subarray(fileBytes(0), fileBytes(this.count)), fileBytes(0));
    setCount(v, this.count);
    const old = from ?? (existsSync(this.path) ? openOld(this.path) : null);
    renameSync(tmp, this.path);
    if (old) setSuperseded(old);
    return v;
  }

  private slotOf(h: HostEntry): number {
    const s = this.slots.get(h.hostId);
    if (s >= 0) return s;
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.count >= this.capacity) {
        if (this.capacity >= CAPACITY_MAX) return -1;
        const next = Math.min(CAPACITY_MAX, this.capacity * 2);
        try {
          this.view = this.replace(next, this.view);
        } catch (e) {
          if (this.growFailures++ === 0) log.error(`cannot grow ${this.path} to ${next} hosts: ${(e as Error).message}; hosts past ${this.capacity} are not in it`);
          return -1;
        }
        this.capacity = next;
        const flags = new Uint8Array(next);
        flags.set(this.flags);
        this.flags = flags;
      }
      slot = this.count++;
      setCount(this.view, this.count);
    }
    const base = beginWrite(this.view, slot);
    writeIdentity(this.view, base, h.hostId, h.hostname, h.hardware.ncpus, h.hardware.memBytes);
    endWrite(this.view, slot);
    this.slots.set(h.hostId, slot);
    return slot;
  }

  /** Every accepted report (the hot path: a seqlocked copy of the report into the host's record). */
  onReport(h: HostEntry, nowMs: number): void {
    const r = h.report;
    if (!r) return;
    const slot = this.slotOf(h);
    if (slot < 0) return;
    const v = this.view;
    const base = beginWrite(v, slot);
    writeReport(v, base, r, h.lastReportMs, h.receivedTotal, h.lostTotal + (h.session ? sessionLoss(h.session) : 0));
    const flags = flagsOf(h);
    writeState(v, base, STATE_CODE[hostState(h, nowMs, this.policy)]!, flags, nowMs);
    endWrite(v, slot);
    this.flags[slot] = flags;
  }

  /**
   * Once a second: what changes without a report (a host registered,
   * connected or not, drained or not, removed) and the heartbeat. A host
   * turning unavail needs nothing: readers judge that from the last
   * report's age. So the state is recomputed only where the flags changed,
   * and the sweep costs a comparison per host, against this process's copy
   * of the flags (reading the record would touch a page of the mapping per
   * few hosts); the records are looked over for removed hosts only when
   * there are more of them than hosts.
   */
  sweep(hosts: Iterable<HostEntry>, byId: (id: number) => HostEntry | undefined, nowMs: number): void {
    let seen = 0;
    for (const h of hosts) {
      const slot = this.slotOf(h);
      if (slot < 0) continue;
      seen++;
      const flags = flagsOf(h);
      if (this.flags[slot] === flags) continue;
      const v = this.view;
      const base = beginWrite(v, slot);
      writeState(v, base, STATE_CODE[hostState(h, nowMs, this.policy)]!, flags, nowMs);
      endWrite(v, slot);
      this.flags[slot] = flags;
    }
    if (this.slots.size > seen) {
      for (const [id, slot] of this.slots.entries()) {
        if (byId(id)) continue;
        clearRecord(this.view, slot);
        this.flags[slot] = 0;
        this.slots.delete(id);
        this.free.push(slot);
      }
    }
    setUpdated(this.view, nowMs);
  }
}

function flagsOf(h: HostEntry): number {
  return (h.report ? FLAG_HAS_REPORT : 0) | (h.connected ? FLAG_CONNECTED : 0) | (h.drained ? FLAG_DRAINED : 0);
}

/** The table a previous run left, if it is one: to mark it superseded for readers still mapping it. */
function openOld(path: string): TableView | null {
  try {
    const v = new TableView(mapFile(path));
    return "error" in readHeader(v) ? null : v;
  } catch {
    return null;
  }
}
