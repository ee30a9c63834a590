/**
 * The master's load table writer (src/master/loadtable.ts): what changes
 * without a load report (a host registered, connected or not, drained or
 * resumed, removed) reaches `load.table` when it happens, through the host
 * table's change listener, with no report arriving and no sweep over the
 * hosts. First on a HostTable and a writer alone, then through a master
 * started in this process (the composition root's wiring), read back as
 * `lava ctl load --local` reads it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOAD_TABLE_FILE, TableView, readHeader, readRecord, type TableHeader, type TableRecord } from "../../src/loadtable/layout.ts";
import { LoadTableWriter } from "../../src/master/loadtable.ts";
import { HostTable, type HostRecord } from "../../src/master/hosts/table.ts";
import { SyncSink, SyncSource } from "../../src/master/sync/index.ts";
import { decodeDatagram, type DecodedSync, type LoadReport } from "../../src/wire/index.ts";
import { LocalMaster, RawAgent } from "./raw-agent.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = { reportIntervalMs: 4000, busy: { loadPerCpu: 1.5, cpuPercent: 95, memPercent: 95 } };
const REPORT: LoadReport = { load1: 0.5, load5: 0.4, load15: 0.3, memUsed: 2e9, memFree: 6e9, swapUsed: 0, swapFree: 1e9, ncpus: 4, cpuUser: 10, cpuSys: 5, cpuIdle: 85, jobsRunning: 0, jobsPending: 0, procsTotal: 200, flags: 0 };

/** Every record of the table in `dataDir`, by host name, as a reader sees it (the file mapped again each time: it may have been replaced). */
function readTable(dataDir: string): { header: TableHeader; hosts: Map<string, TableRecord> } {
  const v = new TableView(Bun.mmap(join(dataDir, LOAD_TABLE_FILE), { shared: true }));
  const header = readHeader(v);
  if ("error" in header) throw new Error(header.error);
  const hosts = new Map<string, TableRecord>();
  for (let slot = 0; slot < header.count; slot++) {
    const r = readRecord(v, slot);
    if (r === "busy") throw new Error(`record ${slot} busy`);
    if (r) hosts.set(r.hostname, r);
  }
  return { header, hosts };
}

const rec = (hostId: number, hostname: string, o: Partial<HostRecord> = {}): HostRecord => ({ hostId, hostname, hardware: { ncpus: 4, memBytes: 8e9, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false, ...o });
const session = (port: number) => ({ reportIp: "10.0.0.1", reportPort: port, nonce: `n${port}`, key: new Uint8Array(32) });

describe("the writer follows the host table's changes, no report needed", () => {
  let dir: string;
  let now: number;
  let table: HostTable;
  let writer: LoadTableWriter;
  const get = (name: string) => readTable(dir).hosts.get(name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lava-loadtable-"));
    now = 1_800_000_000_000;
    writer = new LoadTableWriter(dir, POLICY, { nodeId: 1, pid: process.pid });
    table = new HostTable({ changes: writer.changes(() => now) });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a registered host has a record at once: no report, not connected", () => {
    table.upsert(rec(1, "a"));
    const r = get("a")!;
    expect(r).toMatchObject({ hostId: 1, hasReport: false, connected: false, drained: false, state: "unavail", ncpusHw: 4, memBytesHw: 8e9, writtenMs: now });
  });

  test("its channel up, a report, drained, resumed, disconnected: each written when it happens", () => {
    const h = table.attachSession("a", session(1000))!;
    expect(get("a")).toMatchObject({ connected: true, hasReport: false });
    now += 10;
    h.report = { ...REPORT };
    h.lastReportMs = now;
    h.receivedTotal = 1;
    writer.onReport(h, now);
    expect(get("a")).toMatchObject({ hasReport: true, connected: true, state: "ok", lastReportMs: now, reportsReceived: 1 });
    expect(get("a")!.report.load1).toBe(0.5);

    // From here on no report: each change alone must reach the table.
    now += 10;
    table.setDrained(h, true, "maintenance");
    expect(get("a")).toMatchObject({ drained: true, state: "drained", writtenMs: now });
    expect(h.drainReason).toBe("maintenance");
    now += 10;
    table.setDrained(h, false);
    expect(get("a")).toMatchObject({ drained: false, state: "ok", writtenMs: now });
    now += 10;
    table.setConnected(h, false);
    expect(get("a")).toMatchObject({ connected: false, state: "unreach", writtenMs: now });
    // The report's values stay: only the state and flags changed.
    expect(get("a")!.report.load1).toBe(0.5);
  });

  test("drained by an applied record (upsert), and the hardware written again", () => {
    table.upsert(rec(1, "a", { drained: true, hardware: { ncpus: 8, memBytes: 16e9, gpus: 0 } }));
    expect(get("a")).toMatchObject({ drained: true, ncpusHw: 8, memBytesHw: 16e9 });
  });

  test("a removed host's record is emptied; registered again under a new id, it is a new record", () => {
    table.upsert(rec(2, "b"));
    expect(table.remove("a")).toBe(true);
    expect(get("a")).toBeUndefined();
    expect(get("b")).toBeDefined();
    table.upsert(rec(3, "b"));
    expect(get("b")).toMatchObject({ hostId: 3, hasReport: false, connected: false });
    expect([...readTable(dir).hosts.keys()]).toEqual(["b"]);
  });

  test("the heartbeat writes the header only", () => {
    writer.heartbeat(now + 5000);
    expect(readTable(dir).header.updatedAtMs).toBe(now + 5000);
  });

  test("past 1024 hosts the table grows into a new file, every record kept; the old one says it was superseded", () => {
    const old = new TableView(Bun.mmap(join(dir, LOAD_TABLE_FILE), { shared: true }));
    for (let i = 10; i < 1200; i++) table.upsert(rec(i, `g${i}`));
    table.setDrained(table.byHostname("g1199")!, true);
    const t = readTable(dir);
    expect(t.header.capacity).toBe(2048);
    expect(t.hosts.size).toBe(1191);
    expect(t.hosts.get("g1199")!.drained).toBe(true);
    expect((readHeader(old) as TableHeader).superseded).toBe(true);
  });
});

describe("on a follower", () => {
  test("the leader's reports (MASTER_SYNC) are written as they arrive, in the state the API shows", () => {
    const dir = mkdtempSync(join(tmpdir(), "lava-loadtable-f-"));
    try {
      const t = 1_800_000_000_000;
      const lead = new HostTable();
      const writer = new LoadTableWriter(dir, POLICY, { nodeId: 2, pid: process.pid });
      const follower = new HostTable({ changes: writer.changes(() => t) });
      for (const tb of [lead, follower]) {
        tb.upsert(rec(1, "f1"));
        tb.attachSession("f1", session(1001), false);
      }
      const h = lead.byHostId(1)!;
      h.report = { ...REPORT, load1: 1.25 };
      h.lastReportMs = t - 300;
      h.session!.firstSeq = 1;
      h.session!.lastSeq = h.session!.received = h.receivedTotal = 7;
      lead.setConnected(h, true);
      expect(readTable(dir).hosts.get("f1")).toMatchObject({ hasReport: false, state: "unavail" });
      const src = new SyncSource(lead, 1);
      src.start(4);
      const syncs: DecodedSync[] = src.next(t)!.full().map((b) => {
        const d = decodeDatagram(b);
        if (!d.ok || d.op !== 12) throw new Error(JSON.stringify(d));
        return d.sync;
      });
      expect(new SyncSink(follower).accept(syncs, 1, { id: 1, term: 4 }, t)).toMatchObject({ ok: true, records: 1 });
      // Its channel is up at the leader, not here: the flag says so, the state is the API's.
      expect(readTable(dir).hosts.get("f1")).toMatchObject({ hasReport: true, connected: false, state: "ok", lastReportMs: t - 300, reportsReceived: 7 });
      expect(readTable(dir).hosts.get("f1")!.report.load1).toBe(1.25);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a master writes drain, resume, disconnect and removal into load.table as they happen", () => {
  let m: LocalMaster;
  beforeAll(async () => {
    m = await LocalMaster.start();
  });
  afterAll(async () => {
    await m?.stop();
  });

  test("no report arrives; each change is in the table as soon as the API has answered", async () => {
    const agent = await RawAgent.connect(m, "lt1");
    const get = () => readTable(m.dataDir).hosts.get("lt1");
    expect(get()).toMatchObject({ hostId: agent.hostId, hasReport: false, connected: true, drained: false });

    // A sweep once a second would still show the old flags right after each answer.
    expect((await m.json("/api/v1/hosts/lt1/drain", { method: "POST", body: JSON.stringify({ reason: "disk" }) })).status).toBe(200);
    expect(get()).toMatchObject({ drained: true, connected: true });
    expect((await m.json("/api/v1/hosts/lt1/resume", { method: "POST", body: "{}" })).status).toBe(200);
    expect(get()).toMatchObject({ drained: false, connected: true });

    await agent.close();
    await waitFor(() => get()?.connected === false, 5000, "the disconnect in the table");
    expect(get()!.hasReport).toBe(false);

    expect((await m.json("/api/v1/hosts/lt1", { method: "DELETE" })).status).toBe(200);
    expect(get()).toBeUndefined();
    // The heartbeat goes on with no host at all.
    const hb = readTable(m.dataDir).header.updatedAtMs;
    await waitFor(() => readTable(m.dataDir).header.updatedAtMs > hb, 5000, "the next heartbeat");
  }, 15_000);
});
