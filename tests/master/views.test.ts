import { describe, expect, test } from "bun:test";
import { HostTable } from "../../src/master/hosts/table.ts";
import { loadJson, loadView } from "../../src/master/views.ts";

const policy = { reportIntervalMs: 4000, busy: { loadPerCpu: 1.5, cpuPercent: 95, memPercent: 95 } };

describe("loadJson", () => {
  test("is exactly JSON.stringify of the loadView rows: fields, order, nulls, loss", () => {
    const t = new HostTable();
    const now = 1_000_000;
    for (let i = 1; i <= 50; i++) {
      const h = t.upsert({ hostId: i, hostname: `n-${i}.x_y`, hardware: { ncpus: 4, memBytes: 8e9, gpus: 0 }, version: "v", registeredAtMs: 0, drained: i % 7 === 0 });
      if (i % 5 === 0) continue; // never reported: nulls
      t.attachSession(h.hostname, { reportIp: "10.0.0.1", reportPort: i, nonce: "n", key: new Uint8Array(32) });
      h.connected = i % 3 !== 0;
      h.report = { load1: i / 7, load5: 0.1 * i, load15: 0, memUsed: 1e9 + i, memFree: 2.5e9, swapUsed: 0, swapFree: 1e9, ncpus: 4, cpuUser: 33.3333, cpuSys: 1e-7, cpuIdle: 66.6666, jobsRunning: i, jobsPending: 0, procsTotal: 100 + i, flags: 0 };
      h.lastReportMs = now - i * 300;
      Object.assign(h.session!, { firstSeq: 1, lastSeq: 10 + (i % 4), received: 10 });
      h.receivedTotal = 10;
    }
    const hosts = t.list();
    expect(loadJson(hosts, now, policy)).toBe(JSON.stringify(hosts.map((h) => loadView(h, now, policy))));
    expect(loadJson([], now, policy)).toBe("[]");
  });
});
