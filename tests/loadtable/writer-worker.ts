/**
 * A writer for tests/loadtable/seqlock.test.ts: rewrites every record of a
 * mapped load table as fast as it can, each write with all fields derived
 * from one counter (so a reader can tell a torn record), with or without
 * the seqlock, until told to stop.
 */
import { HEADER_BYTES, RECORD_BYTES, TableView, beginWrite, endWrite, writeReport } from "../../src/loadtable/layout.ts";
import { consistentReport } from "./consistent.ts";

declare const self: Worker;
self.onmessage = (ev: MessageEvent<{ path: string; records: number; locked: boolean; ms: number }>) => {
  const { path, records, locked, ms } = ev.data;
  const v = new TableView(Bun.mmap(path, { shared: true }));
  const end = performance.now() + ms;
  let c = 1;
  let writes = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      const slot = c % records;
      const base = locked ? beginWrite(v, slot) : HEADER_BYTES + slot * RECORD_BYTES;
      writeReport(v, base, consistentReport(c), c, c, c);
      if (locked) endWrite(v, slot);
      c++;
      writes++;
    }
  }
  postMessage({ writes });
};
