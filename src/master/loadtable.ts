/**
 * The master's side of the shared-memory load table (src/loadtable,
 * docs/history.md): `<dataDir>/load.table`, written on every accepted
 * report, and on every change the host table announces (HostChanges: a
 * host registered, drained or resumed, connected or disconnected, removed)
 * when it happens: nothing scans the hosts. Once a second only the
 * header's heartbeat is written. Soft state,
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
import { shownState, unavailAfterMs, type StatusPolicy } from "./hosts/status.ts";
import { sessionLoss, type HostChanges, type HostEntry } from "./hosts/table.ts";
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
    if (!h.report) return;
    const slot = this.slotOf(h);
    if (slot >= 0) this.write(h, slot, nowMs);
  }

  /**
   * The host table's changes, written as they happen (the composition root
   * passes this to the HostTable it builds; `nowMs` stamps the records).
   * A host turning unavail needs nothing: readers judge that from the last
   * report's age.
   */
  changes(nowMs: () => number): HostChanges {
    return {
      added: (h) => this.added(h, nowMs()),
      changed: (h) => {
        const slot = this.slotOf(h);
        if (slot >= 0) this.write(h, slot, nowMs());
      },
      removed: (h) => this.removed(h.hostId),
    };
  }

  /** The header's heartbeat (once a second; readers warn when it is older than 10 s). */
  heartbeat(nowMs: number): void {
    setUpdated(this.view, nowMs);
  }

  /** A host new to the table, or its durable fields written again (its hardware, drained): its identity and state. */
  private added(h: HostEntry, nowMs: number): void {
    const known = this.slots.has(h.hostId);
    const slot = this.slotOf(h);
    if (slot >= 0) this.write(h, slot, nowMs, known);
  }

  private removed(hostId: number): void {
    const slot = this.slots.get(hostId);
    if (slot < 0) return;
    clearRecord(this.view, slot);
    this.slots.delete(hostId);
    this.free.push(slot);
  }

  /** The host's report (if any), state and flags into its record; and its identity again if `identity`. */
  private write(h: HostEntry, slot: number, nowMs: number, identity = false): void {
    const v = this.view;
    const base = beginWrite(v, slot);
    if (identity) writeIdentity(v, base, h.hostId, h.hostname, h.hardware.ncpus, h.hardware.memBytes);
    const r = h.report;
    if (r) writeReport(v, base, r, h.lastReportMs, h.receivedTotal, h.lostTotal + (h.session ? sessionLoss(h.session) : 0));
    // The state the API shows (GET /api/v1/load): on a follower, a channel up at the leader counts as up.
    writeState(v, base, STATE_CODE[shownState(h, nowMs, this.policy)]!, flagsOf(h), nowMs);
    endWrite(v, slot);
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
