/**
 * History, telemetry and the shared-memory load table end to end, on the
 * compiled binary: a real agent reports (and sends telemetry every second)
 * for a while; the master is restarted and the history is still there
 * (a clean stop writes what was kept in memory: the flush interval is
 * longer than the test; after SIGKILL, what was flushed is there);
 * `ctl history` draws it, `ctl telemetry` and /metrics show the telemetry,
 * `ctl load --local` reads the load table. And as an attacker: telemetry
 * before registering, too large, malformed — refused, nothing kept.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, cleanEnv } from "../helpers/binary.ts";
import { TestMaster, spawnLava, tempDir, type Proc } from "../helpers/cluster.ts";
import { teardown } from "../helpers/teardown.ts";
import { waitFor } from "../helpers/wait.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";

type Series = { host: string; metric: string; step: number; start: number; avg: (number | null)[]; max?: (number | null)[] };

function ctl(m: TestMaster, args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([ensureBinary(), "ctl", ...args, "--master", m.addr, "--token", m.adminToken], { env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const known = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);

describe("history across a master restart, telemetry, the load table", () => {
  let m: TestMaster;
  let agent: Proc | null = null;

  beforeAll(async () => {
    // No host is flushed in 10 minutes: what the restart keeps, the clean stop wrote.
    m = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  history:\n    flushInterval: 1\n" });
    // The machine's own /proc: real filesystems, interfaces and processes in the telemetry.
    agent = spawnLava(["agent", "--state-dir", tempDir("lava-agent-h1-"), "--master", m.addr, "--hostname", "h1", "--interval", "1", "--log-level", "debug"], { LAVA_TOKEN: m.adminToken, LAVA_TELEMETRY_INTERVAL: "1", LAVA_RECONNECT_MIN: "0.2", LAVA_RECONNECT_MAX: "1" });
    await waitFor(async () => (await m.api("/api/v1/hosts/h1/telemetry")).status === 200, 15_000, "h1's telemetry");
  }, 30_000);

  afterAll(() => teardown({ clients: [agent], masters: [m] }));

  test("reports become history; the files are mode 0600", async () => {
    const r = await waitFor(async () => {
      const s = await m.api<Series>("/api/v1/hosts/h1/history?metric=load1&since=10m");
      return known(s.body.avg).length > 0 ? s.body : null;
    }, 10_000, "a load1 point");
    expect(r.step).toBe(15);
    expect(r.max).toBeArray();
    for (const f of ["history.lava", "load.table"]) expect(statSync(join(m.dataDir, f)).mode & 0o777).toBe(0o600);
  });

  test("telemetry: `ctl telemetry`, its JSON, /metrics gauges, and its rates in history", async () => {
    const t = ctl(m, ["telemetry", "h1"]);
    expect(t.code).toBe(0);
    expect(t.out).toContain("FILESYSTEMS");
    expect(t.out).toContain("TOP PROCESSES BY CPU");
    const j = JSON.parse(ctl(m, ["telemetry", "h1", "--json"]).out) as { host: string; filesystems: unknown[]; processes: { byCpu: unknown[] } };
    expect(j.host).toBe("h1");
    expect(j.filesystems.length).toBeGreaterThan(0);
    expect(j.processes.byCpu.length).toBeGreaterThan(0);
    const metrics = await (await fetch(`${m.url}/metrics`)).text();
    expect(metrics).toMatch(/^lava_host_filesystem_size_bytes\{host="h1",mountpoint="[^"]+",fstype="[^"]+"\} \d+/m);
    expect(metrics).toMatch(/^lava_host_network_receive_bytes_per_second\{host="h1",device="[^"]+"\} [\d.e+-]+$/m);
    const net = await waitFor(async () => {
      const s = await m.api<Series>("/api/v1/hosts/h1/history?metric=netRx&since=10m");
      return known(s.body.avg).length > 0 ? s.body : null;
    }, 10_000, "a netRx point");
    expect(known(net.avg)[0]).toBeGreaterThanOrEqual(0);
    expect(ctl(m, ["telemetry", "nobody"]).code).toBe(1);
  });

  test("`ctl load --local` reads the shared-memory table: the same hosts as the API, no HTTP", async () => {
    const r = Bun.spawnSync([ensureBinary(), "ctl", "load", "--local", "--data-dir", m.dataDir, "--json", "--master", "127.0.0.1:1"], { env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const rows = JSON.parse(r.stdout.toString()) as { host: string; status: string; load1: number; ncpus: number }[];
    expect(rows.map((x) => x.host)).toEqual(["h1"]);
    expect(rows[0]!.status).not.toBe("unavail");
    expect(rows[0]!.ncpus).toBeGreaterThan(0);
    const table = Bun.spawnSync([ensureBinary(), "ctl", "load", "--local", "--data-dir", m.dataDir], { env: cleanEnv(), stdout: "pipe" });
    expect(table.stdout.toString()).toMatch(/^HOST\s+STATUS/);
    const none = Bun.spawnSync([ensureBinary(), "ctl", "load", "--local", "--data-dir", join(m.dataDir, "nope")], { env: cleanEnv(), stderr: "pipe" });
    expect(none.exitCode).toBe(3);
    expect(none.stderr.toString()).toContain("no load table");
  });

  test("a restarted master still has the history; `ctl history` draws it", async () => {
    const before = (await m.api<Series>("/api/v1/hosts/h1/history?metric=load1&since=10m")).body;
    const pointsBefore = known(before.avg).length;
    await agent!.stop();
    agent = null;
    await m.stop();
    await m.restart();
    const after = (await m.api<Series>("/api/v1/hosts/h1/history?metric=load1&since=10m")).body;
    expect(known(after.avg).length).toBeGreaterThanOrEqual(pointsBefore);
    expect(after.start).toBe(before.start);
    const text = ctl(m, ["history", "h1", "--since", "10m"]);
    expect(text.code).toBe(0);
    expect(text.out).toContain("h1 load1");
    expect(text.out).toMatch(/[\u2801-\u28ff]/); // braille dots
    expect(text.out).toContain("now ");
    const json = JSON.parse(ctl(m, ["history", "h1", "--since", "10m", "--metric", "memUsed", "--json"]).out) as Series & { unit: string };
    expect(json.unit).toBe("bytes");
    expect(known(json.avg).length).toBeGreaterThan(0);
    // The cluster-wide view, per host and summarised.
    const all = (await m.api<{ hosts: { host: string }[] }>("/api/v1/history?metric=load1&since=10m")).body;
    expect(all.hosts.map((h) => h.host)).toEqual(["h1"]);
    const sum = (await m.api<{ hosts: number; summary: { p50: (number | null)[] } }>("/api/v1/history?metric=load1&since=10m&agg=summary")).body;
    expect(sum.hosts).toBe(1);
    expect(known(sum.summary.p50).length).toBeGreaterThan(0);
    expect(ctl(m, ["history", "h1", "--metric", "nope"]).code).toBe(1);
  }, 30_000);
});

describe("history across SIGKILL of the master", () => {
  test("what was flushed (each host once per master.history.flushInterval) is there after a restart", async () => {
    const m = await TestMaster.start({ config: "master:\n  reportInterval: 1\n  history:\n    flushInterval: 1\n" });
    let agent: Proc | null = spawnLava(["agent", "--state-dir", tempDir("lava-agent-h2-"), "--master", m.addr, "--hostname", "h2", "--interval", "1"], { LAVA_TOKEN: m.adminToken, LAVA_RECONNECT_MIN: "0.2", LAVA_RECONNECT_MAX: "1" });
    try {
      // Two points: a closed 15 s bucket (a row) and the open one (the checkpoint of the open buckets).
      const before = await waitFor(async () => {
        const s = (await m.api<Series>("/api/v1/hosts/h2/history?metric=load1&since=10m")).body;
        return known(s.avg ?? []).length >= 2 ? s : null;
      }, 40_000, "two load1 points of h2");
      await agent.stop();
      agent = null;
      await m.proc.kill9();
      await m.restart();
      const after = (await m.api<Series>("/api/v1/hosts/h2/history?metric=load1&since=10m")).body;
      expect(after.start).toBe(before.start);
      // At most the last second is lost: a point, if a bucket had just begun.
      expect(known(after.avg).length).toBeGreaterThanOrEqual(known(before.avg).length - 1);
      expect(known(after.avg).length).toBeGreaterThanOrEqual(1);
    } finally {
      await teardown({ clients: [agent], masters: [m] });
    }
  }, 60_000);
});

describe("telemetry as an attacker would send it", () => {
  let m: TestMaster;
  beforeAll(async () => {
    m = await TestMaster.start();
  }, 20_000);
  afterAll(() => teardown({ masters: [m] }));

  async function channel(): Promise<{ ws: WebSocket; next: () => Promise<Record<string, unknown>> }> {
    const ws = new WebSocket(`ws://${m.addr}/ws`, { headers: { authorization: `Bearer ${m.adminToken}` } } as unknown as string[]);
    const queue: Record<string, unknown>[] = [];
    let wake: (() => void) | null = null;
    ws.onmessage = (ev) => {
      queue.push(JSON.parse(String(ev.data)));
      wake?.();
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("ws error"));
    });
    const next = async () => {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift()!;
    };
    return { ws, next };
  }
  const telemetry = (extra: Record<string, unknown> = {}) => JSON.stringify({ type: "telemetry", at: Date.now(), intervalMs: 60_000, filesystems: [{ mount: "/", fstype: "ext4", sizeBytes: 100, usedBytes: 50 }], ...extra });

  test("before register: refused (not_registered), nothing kept", async () => {
    const c = await channel();
    c.ws.send(telemetry());
    expect(await c.next()).toMatchObject({ type: "error", error: "not_registered" });
    c.ws.close();
  });

  test("over 64 KiB or malformed: refused; a registered host's telemetry is kept for that host only", async () => {
    const c = await channel();
    c.ws.send(JSON.stringify(await signedRegister({ hostname: "evil", hardware: { ncpus: 1, memBytes: 1, gpus: 0 }, reportPort: 40000, version: "x" }, await newHostKey(), m.adminToken)));
    expect(await c.next()).toMatchObject({ type: "registered" });
    c.ws.send(telemetry({ skipped: { note: "x".repeat(500) }, containers: Array.from({ length: 100 }, (_, i) => ({ id: `c${i}`, name: "n".repeat(256), image: "i".repeat(256), state: "running" })), processes: { byCpu: [], byMemory: [] }, disks: Array.from({ length: 64 }, (_, i) => ({ name: `d${String(i).padStart(3, "0")}`.padEnd(64, "x"), readBytesPerSec: 1, writeBytesPerSec: 1, readsPerSec: 1, writesPerSec: 1 })) }));
    expect(await c.next()).toMatchObject({ type: "error", error: "too_large" });
    c.ws.send(telemetry({ filesystems: [{ mount: "/", fstype: "ext4", sizeBytes: -1, usedBytes: 0 }] }));
    expect(await c.next()).toMatchObject({ type: "error", error: "bad_message" });
    c.ws.send(telemetry({ filesystems: Array.from({ length: 65 }, () => ({ mount: "/", fstype: "ext4", sizeBytes: 1, usedBytes: 0 })) }));
    expect(await c.next()).toMatchObject({ type: "error", error: "bad_message" });
    expect((await m.api("/api/v1/hosts/evil/telemetry")).status).toBe(404);
    // A host field in the message changes nothing: it is the session's host that is recorded.
    c.ws.send(telemetry({ host: "other" }));
    await waitFor(async () => (await m.api("/api/v1/hosts/evil/telemetry")).status === 200, 5000, "evil's own telemetry");
    expect((await m.api<{ host: string }>("/api/v1/hosts/evil/telemetry")).body.host).toBe("evil");
    c.ws.close();
  });
});
