/**
 * The shared-memory load table's seqlock (src/loadtable/layout.ts): a reader
 * never keeps a torn record while a writer rewrites records as fast as it
 * can, first a writer thread doing nothing else (millions of writes a
 * second), then the compiled master taking UDP reports at full rate. The
 * same reads without the seqlock do see torn records: the check can fail.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FLAG_CONNECTED, FLAG_HAS_REPORT, LOAD_TABLE_FILE, STATE_NAMES, TableView, beginWrite, endWrite, fileBytes, readHeader, readRecord, setCount, writeHeader, writeIdentity, writeState } from "../../src/loadtable/layout.ts";
import { HOST_STATES } from "../../src/control/host-states.ts";
import { createMapped } from "../../src/master/mapped-file.ts";
import { TestMaster, tempDir } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { isConsistent } from "./consistent.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function table(records: number): { path: string; view: TableView } {
  const dir = tempDir("lava-table-");
  dirs.push(dir);
  const path = join(dir, LOAD_TABLE_FILE);
  const view = new TableView(createMapped(path, fileBytes(records)));
  writeHeader(view, { capacity: records, reportIntervalMs: 4000, unavailAfterMs: 14_000, pid: process.pid, nodeId: 1 });
  for (let s = 0; s < records; s++) {
    const base = beginWrite(view, s);
    writeIdentity(view, base, s + 1, `host-${s}`, 4, 2 ** 33);
    writeState(view, base, 0, FLAG_HAS_REPORT | FLAG_CONNECTED, 0);
    endWrite(view, s);
  }
  setCount(view, records);
  return { path, view };
}

const PAUSE = () => Bun.sleepSync(1);

/** Reads every record over and over while `busy()` holds: how many reads, how many torn, how many saw a new write. */
async function readWhile(view: TableView, records: number, busy: () => boolean) {
  let reads = 0;
  let torn = 0;
  let changes = 0;
  const last = new Float64Array(records);
  while (busy()) {
    for (let s = 0; s < records; s++) {
      const r = readRecord(view, s, PAUSE);
      if (r === null || r === "busy") throw new Error(`record ${s}: ${r}`);
      reads++;
      if (r.report.load1 !== 0 && !isConsistent(r.report)) torn++;
      if (r.report.load1 !== last[s]) changes++;
      last[s] = r.report.load1;
    }
    // Let the worker's and the sockets' callbacks run now and then.
    if (reads % 50_000 < records) await Bun.sleep(0);
  }
  return { reads, torn, changes };
}

function runWriter(path: string, records: number, locked: boolean, ms: number): { done: Promise<number>; busy: () => boolean } {
  const w = new Worker(new URL("./writer-worker.ts", import.meta.url).href);
  let busy = true;
  const done = new Promise<number>((resolve) => {
    w.onmessage = (ev: MessageEvent<{ writes: number }>) => {
      busy = false;
      w.terminate();
      resolve(ev.data.writes);
    };
  });
  w.postMessage({ path, records, locked, ms });
  return { done, busy: () => busy };
}

describe("the seqlock", () => {
  test("states in records are design §3's, in HOST_STATES order", () => {
    expect([...STATE_NAMES]).toEqual([...HOST_STATES]);
  });

  test("a reader keeps no torn record while a writer thread rewrites them as fast as it can", async () => {
    const records = 16;
    const { path, view } = table(records);
    const w = runWriter(path, records, true, 1500);
    const r = await readWhile(view, records, w.busy);
    const writes = await w.done;
    expect(writes).toBeGreaterThan(100_000);
    expect(r.changes).toBeGreaterThan(1000);
    expect(r.torn).toBe(0);
  }, 10_000);

  test("without the seqlock the same reads see torn records (the check above can fail)", async () => {
    const records = 4;
    const { path, view } = table(records);
    const w = runWriter(path, records, false, 1500);
    const r = await readWhile(view, records, w.busy);
    await w.done;
    expect(r.torn).toBeGreaterThan(0);
  }, 10_000);
});

describe("the compiled master at full ingest rate", () => {
  test("`ctl load --local`'s reader never sees a torn record while reports arrive as fast as a sender thread can send them", async () => {
    const m = await TestMaster.start({ args: ["--insecure"] });
    const hosts = 8;
    const sender = new Worker(new URL("./sender-worker.ts", import.meta.url).href);
    const reply = <T>() => new Promise<T>((resolve) => (sender.onmessage = (ev: MessageEvent<T>) => resolve(ev.data)));
    try {
      const bound = reply<{ ports: number[] }>();
      sender.postMessage({ hosts });
      const { ports } = await bound;
      // Registered over /ws (no token on an --insecure master); reports then come from each host's reportPort.
      for (let i = 0; i < hosts; i++) {
        const ws = new WebSocket(`ws://${m.addr}/ws`);
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => ws.send(JSON.stringify({ type: "register", hostname: `torn-${i}`, hardware: { ncpus: 4, memBytes: 2 ** 33, gpus: 0 }, reportPort: ports[i], version: "test" }));
          ws.onmessage = (ev) => (JSON.parse(String(ev.data)).type === "registered" ? resolve() : reject(new Error(String(ev.data))));
          ws.onerror = () => reject(new Error("ws error"));
        });
      }
      const path = join(m.dataDir, LOAD_TABLE_FILE);
      const view = await waitFor(() => {
        const v = new TableView(Bun.mmap(path, { shared: true }));
        const h = readHeader(v);
        return !("error" in h) && h.count >= hosts ? v : null;
      }, 5000, "the load table with every host");
      let busy = true;
      const done = reply<{ sent: number }>().then((x) => {
        busy = false;
        return x;
      });
      sender.postMessage({ go: true, udpPort: m.run.udpPort, ms: 2500 });
      const r = await readWhile(view, hosts, () => busy);
      const { sent } = await done;
      const st = await m.api<{ ingest: { accepted: number } }>("/api/v1/status");
      expect(sent).toBeGreaterThan(10_000);
      expect(st.body.ingest.accepted).toBeGreaterThan(5000);
      expect(r.changes).toBeGreaterThan(100);
      expect(r.torn).toBe(0);
    } finally {
      sender.terminate();
      await m.stop();
      m.cleanup();
    }
  }, 20_000);
});
