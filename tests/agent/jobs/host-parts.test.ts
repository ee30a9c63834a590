/**
 * The agent's job parts that do not need a running job: GPU detection on
 * fake /proc, /sys and /dev trees, the GPU pool, who a job runs as, job
 * records and /proc stat parsing, the output kept for peek, and when an
 * agent without a master fences.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectGpus, GpuPool } from "../../../src/agent/jobs/gpus.ts";
import { fenceAfterMs, masterRunsHere } from "../../../src/agent/jobs/host.ts";
import { bootTimeMs, clearRecords, groupAlive, parsePgrp, parseRecord, parseStartTime, readRecords, readStartTime, RecordSlots, recordText, START_UNREAD, startedNear, type JobRecord } from "../../../src/agent/jobs/records.ts";
import { KEEPER_NAME, KEEPER_SCRIPT } from "../../../src/agent/jobs/keeper.ts";
import { attemptUsage, parseVmHwm } from "../../../src/agent/jobs/usage.ts";
import { chooseJobUser, parsePasswd, type UnixUser } from "../../../src/agent/jobs/users.ts";
import { peekBytes, capture } from "../../../src/agent/jobs/capture.ts";

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "lava-host-parts-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree() {
  const root = temp();
  const roots = { proc: join(root, "proc"), sys: join(root, "sys"), dev: join(root, "dev") };
  for (const d of Object.values(roots)) mkdirSync(d, { recursive: true });
  return roots;
}

describe("GPU detection", () => {
  test("NVIDIA: the driver's list in /proc/driver/nvidia/gpus, else /dev/nvidiaN", () => {
    const r = tree();
    expect(detectGpus(r)).toEqual({ vendor: null, count: 0 });
    for (const n of ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"]) writeFileSync(join(r.dev, n), "");
    expect(detectGpus(r)).toEqual({ vendor: "nvidia", count: 2 });
    for (const bus of ["0000:01:00.0", "0000:02:00.0", "0000:03:00.0"]) mkdirSync(join(r.proc, "driver", "nvidia", "gpus", bus), { recursive: true });
    expect(detectGpus(r)).toEqual({ vendor: "nvidia", count: 3 });
  });

  test("AMD: KFD topology nodes with SIMDs (the CPU node has none), else amdgpu render nodes", () => {
    const r = tree();
    mkdirSync(join(r.dev, "dri"));
    for (const n of ["renderD128", "renderD129"]) {
      writeFileSync(join(r.dev, "dri", n), "");
      mkdirSync(join(r.sys, "class", "drm", n, "device"), { recursive: true });
      mkdirSync(join(r.sys, "bus", n), { recursive: true });
    }
    symlinkSync("../../../bus/pci/drivers/amdgpu", join(r.sys, "class", "drm", "renderD128", "device", "driver"));
    symlinkSync("../../../bus/pci/drivers/i915", join(r.sys, "class", "drm", "renderD129", "device", "driver"));
    expect(detectGpus(r)).toEqual({ vendor: "amd", count: 1 });
    const nodes = join(r.sys, "class", "kfd", "kfd", "topology", "nodes");
    for (const [n, simd] of [["0", 0], ["1", 256], ["2", 256]] as const) {
      mkdirSync(join(nodes, n), { recursive: true });
      writeFileSync(join(nodes, n, "properties"), `cpu_cores_count 8\nsimd_count ${simd}\n`);
    }
    expect(detectGpus(r)).toEqual({ vendor: "amd", count: 2 });
  });

  test("the pool hands out free devices, never one twice; its variables by vendor", () => {
    const p = new GpuPool(3, "nvidia");
    expect(p.take(2)).toEqual([0, 1]);
    expect(p.take(2)).toBeNull();
    expect(p.take(1)).toEqual([2]);
    p.give([0]);
    expect(p.take(1)).toEqual([0]);
    expect(p.env([0, 2])).toEqual({ CUDA_VISIBLE_DEVICES: "0,2" });
    expect(p.env([])).toEqual({ CUDA_VISIBLE_DEVICES: "" });
    expect(new GpuPool(2, "amd").env([1])).toEqual({ CUDA_VISIBLE_DEVICES: "1", ROCR_VISIBLE_DEVICES: "1" });
    expect(new GpuPool(0, null).env([])).toEqual({});
  });
});

describe("who a job runs as", () => {
  const users = parsePasswd("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/sh\n# comment\nbroken\n");
  const lookup = (n: string) => users.get(n) ?? null;
  const self: UnixUser = { name: "root", uid: 0, gid: 0, home: "/root" };
  const policy = { user: "nobody", users: { alice: "alice", ops: "root" }, allowRoot: false };

  test("agent.jobs.user by default; agent.jobs.users maps a subject to its own user", () => {
    expect(chooseJobUser("bob", policy, 0, self, lookup)).toEqual({ ok: true, user: users.get("nobody")!, switchTo: true });
    expect(chooseJobUser("alice", policy, 0, self, lookup)).toEqual({ ok: true, user: users.get("alice")!, switchTo: true });
    expect(chooseJobUser("constructor", policy, 0, self, lookup)).toMatchObject({ ok: true, user: { name: "nobody" } });
  });

  test("root only with allowRoot; an unknown user is refused naming the key", () => {
    expect(chooseJobUser("ops", policy, 0, self, lookup)).toEqual({ ok: false, reason: expect.stringContaining("agent.jobs.allowRoot") });
    expect(chooseJobUser("ops", { ...policy, allowRoot: true }, 0, self, lookup)).toMatchObject({ ok: true, user: { uid: 0 } });
    expect(chooseJobUser("x", { ...policy, user: "ghost" }, 0, self, lookup)).toEqual({ ok: false, reason: expect.stringContaining('no Unix user "ghost" on this host (agent.jobs.user)') });
  });

  test("an agent that is not root runs jobs as itself", () => {
    const me = { name: "lava", uid: 1001, gid: 1001, home: "/home/lava" };
    expect(chooseJobUser("alice", policy, 1001, me, lookup)).toEqual({ ok: true, user: me, switchTo: false });
  });
});

describe("job records and /proc", () => {
  const stat = "4242 (sh -c (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 2000000 300 18446744073709551615";
  test("start time and process group from a stat line whose command has spaces and parentheses", () => {
    expect(parseStartTime(stat)).toBe(987654);
    expect(parsePgrp(stat)).toBe(4242);
    expect(parseStartTime("garbage")).toBeNull();
  });

  test("a record: a line for the keeper, JSON for the agent; slots are reused and cleared, and read back", () => {
    const r: JobRecord = { jobId: 7, attempt: 2, pgid: 4242, startTime: 987654, graceMs: 10_000, startedAt: 1_700_000_000_000 };
    const r2: JobRecord = { ...r, jobId: 8, attempt: 1, pgid: 99 };
    expect(recordText(r).split("\n")[0]).toBe("4242 987654 10000");
    expect(parseRecord(recordText(r))).toEqual(r);
    const d = temp();
    const slots = new RecordSlots(d);
    const a = slots.put({ ...r, jobId: 1000, pgid: 123456789 });
    const b = slots.put(r2);
    slots.clear(a);
    expect(slots.put(r)).toBe(a);
    writeFileSync(join(d, "junk.rec"), "not a record");
    expect(readRecords(d)).toEqual([r, r2]);
    slots.clear(a);
    slots.clear(b);
    expect(readRecords(d)).toEqual([]);
    // Cleared by blanking, not truncating: the file keeps its size, and its first line names nothing to the keeper.
    const cleared = readFileSync(join(d, `slot-${a}.rec`), "utf8");
    expect(cleared.length).toBe(recordText({ ...r, jobId: 1000, pgid: 123456789 }).length);
    expect(cleared.trim()).toBe("");
    slots.close();
    clearRecords(d);
    expect(readdirSync(d)).toEqual([]);
  });

  test("the keeper ends the group a slot names, also over a longer record it replaced, and nothing a blanked slot held", async () => {
    const d = temp();
    const slots = new RecordSlots(d);
    const sleeper = () => Bun.spawn(["sleep", "30"], { stdin: "ignore", stdout: "ignore", stderr: "ignore", detached: true });
    const live = sleeper();
    const spared = sleeper();
    const young = sleeper();
    try {
      const rec = (p: typeof live, jobId: number): JobRecord => ({ jobId, attempt: 1, pgid: p.pid, startTime: readStartTime(p.pid)!, graceMs: 100, startedAt: 1 });
      // Slot 0: a longer record, then `live`'s over it. Slot 1: `spared`'s record, blanked.
      const s0 = slots.put({ ...rec(spared, 123_456_789), graceMs: 123_456 });
      slots.clear(s0);
      expect(slots.put(rec(live, 1))).toBe(s0);
      const s1 = slots.put(rec(spared, 2));
      slots.clear(s1);
      // Slot 2: a group whose start time is not read yet (a job in its first 100 ms): ended unchecked.
      const s2 = slots.put({ ...rec(young, 3), startTime: START_UNREAD });
      expect(readFileSync(join(d, `slot-${s2}.rec`), "utf8").split("\n")[0]).toBe(`${young.pid} - 100`);
      const keeper = Bun.spawn(["/bin/sh", "-c", KEEPER_SCRIPT, KEEPER_NAME, d], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      keeper.stdin.end();
      await keeper.exited;
      for (const p of [live, young]) expect(await Promise.race([p.exited.then(() => "ended"), Bun.sleep(2000).then(() => "running")])).toBe("ended");
      expect(spared.exitCode).toBeNull();
    } finally {
      slots.close();
      for (const p of [live, spared, young]) p.kill("SIGKILL");
    }
  });

  test("a restarted agent takes a group whose start time was never read for the job's only if its leader started when the record says", () => {
    const p = Bun.spawn(["sleep", "30"], { stdin: "ignore", stdout: "ignore", stderr: "ignore", detached: true });
    try {
      const st = readStartTime(p.pid)!;
      const boot = bootTimeMs();
      expect(boot).not.toBeNull();
      const r: JobRecord = { jobId: 9, attempt: 1, pgid: p.pid, startTime: START_UNREAD, graceMs: 100, startedAt: Date.now() };
      expect(startedNear(st, r.startedAt, boot)).toBe(true);
      expect(groupAlive(r)).toBe(true);
      // The same pid, but the record's job started an hour earlier: another process has that pid now.
      expect(groupAlive({ ...r, startedAt: r.startedAt - 3_600_000 })).toBe(false);
      expect(groupAlive({ ...r, startTime: st })).toBe(true);
    } finally {
      p.kill("SIGKILL");
    }
  });

  test("usage: rusage's maxrss counts only above the agent's own high-water mark (vfork carries it over)", () => {
    expect(parseVmHwm("Name:\tsh\nVmHWM:\t    1800 kB\nVmRSS:\t 1700 kB\n")).toBe(1800 * 1024);
    const base = { elapsedMs: 1234.4, sampledMaxRss: 5_000_000, agentHwmBytes: 200_000_000 };
    expect(attemptUsage({ ...base, rusage: { userUs: 900_400, sysUs: 99_600, maxRssBytes: 201_000_000 } })).toEqual({ elapsedMs: 1234, cpuUserMs: 900, cpuSysMs: 100, maxRssBytes: 5_000_000 });
    expect(attemptUsage({ ...base, rusage: { userUs: 1, sysUs: 1, maxRssBytes: 900_000_000 } }).maxRssBytes).toBe(900_000_000);
    expect(attemptUsage({ ...base, sampledMaxRss: 0, rusage: null })).toEqual({ elapsedMs: 1234, cpuUserMs: null, cpuSysMs: null, maxRssBytes: null });
  });
});

describe("output kept for peek", () => {
  test("the head up to the limit, then the last bytes; a part in neither is skipped and said so by `from`", () => {
    const head = new TextEncoder().encode("0123456789");
    const tail = new TextEncoder().encode("uvwxyz");
    // 26 bytes written: head 0-9, tail 20-25.
    expect(new TextDecoder().decode(peekBytes(head, tail, 26, 3, 4).bytes)).toBe("3456");
    expect(peekBytes(head, tail, 26, 12, 100)).toEqual({ bytes: tail, from: 20 });
    expect(new TextDecoder().decode(peekBytes(head, tail, 26, 23, 100).bytes)).toBe("xyz");
    expect(peekBytes(head, tail, 26, 40, 100).from).toBe(26);
  });

  test("a capture answers peek while the stream is still open", async () => {
    let push!: (s: string) => void;
    let end!: () => void;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        push = (s) => c.enqueue(new TextEncoder().encode(s));
        end = () => c.close();
      },
    });
    const cap = capture(stream, 8, 4);
    push("hello ");
    push("world, more");
    await Bun.sleep(10);
    expect(cap.peek(0, 100)).toEqual({ text: "hello wo", from: 0, total: 17 });
    expect(cap.peek(8, 100)).toEqual({ text: "more", from: 13, total: 17 });
    end();
    await cap.done;
    expect(cap.result()).toEqual({ text: "hello wo", bytes: 17, truncated: true });
  });
});

describe("self-fencing and master hosts", () => {
  test("an agent without a master ends its jobs in time for them to be gone before the master's requeue", () => {
    expect(fenceAfterMs(60_000, 5_000)).toBe(53_000);
    expect(fenceAfterMs(60_000, 60_000)).toBe(30_000);
    expect(fenceAfterMs(1_000, 500)).toBe(500);
  });

  test("a master at a loopback or own address runs here; one elsewhere does not", async () => {
    const resolve = async (h: string) => ({ "m.local": ["127.0.1.1"], "m.far": ["192.0.2.10"] })[h] ?? [];
    expect(await masterRunsHere([{ host: "m.far", port: 6880 }], resolve)).toBe(false);
    expect(await masterRunsHere([{ host: "m.far", port: 6880 }, { host: "m.local", port: 6880 }], resolve)).toBe(true);
  });
});
