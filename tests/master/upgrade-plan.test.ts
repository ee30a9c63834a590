/** The upgrade wave planner (pure) and the wave runner against a fake channel. */
import { describe, expect, test } from "bun:test";
import type { UpdateAgent } from "../../src/control/index.ts";
import { RequestRouter } from "../../src/master/requests/router.ts";
import type { Target } from "../../src/master/requests/targets.ts";
import { planUpgrade, stopAfterWave } from "../../src/master/upgrade/plan.ts";
import { UpgradeRunner, type UpgradeEvent } from "../../src/master/upgrade/runner.ts";

const T = (host: string, version: string, connected = true, hostId = 0): Target => ({ host, entry: { hostname: host, hostId, connected, version } });

describe("upgrade plan", () => {
  test("hosts not on the target version, in waves of waveSize, in the given order", () => {
    const targets = [T("a", "1"), T("b", "2"), T("c", "1"), T("d", "1", false), { host: "zz", entry: null }, T("e", "0.9"), T("f", "1")];
    expect(planUpgrade(targets, "2", 2)).toEqual({ target: "2", waves: [["a", "c"], ["e", "f"]], current: ["b"], unreachable: ["d"], unknown: ["zz"] });
    expect(planUpgrade(targets, "2", 10).waves).toEqual([["a", "c", "e", "f"]]);
    expect(planUpgrade([], "2", 3).waves).toEqual([]);
    expect(() => planUpgrade(targets, "2", 0)).toThrow();
  });

  test("stop after a wave where more than half failed", () => {
    expect(stopAfterWave(4, 2)).toBe(false);
    expect(stopAfterWave(4, 3)).toBe(true);
    expect(stopAfterWave(1, 1)).toBe(true);
    expect(stopAfterWave(3, 1)).toBe(false);
    expect(stopAfterWave(3, 2)).toBe(true);
  });
});

/** A fake cluster: each host answers update_agent as scripted, then (maybe) re-registers. */
function harness(script: Record<string, "ok" | "refuse" | "silent" | "old-version" | "no-result-but-back">) {
  let now = 0;
  let n = 0;
  const router = new RequestRouter(() => now, () => `r${++n}`);
  const timers: { at: number; f: () => void; live: boolean }[] = [];
  const sent: UpdateAgent[] = [];
  const names = Object.keys(script);
  const idOf = (h: string) => names.indexOf(h) + 1;
  const runner = new UpgradeRunner({
    router,
    nowMs: () => now,
    setTimer: (f, ms) => {
      const t = { at: now + ms, f, live: true };
      timers.push(t);
      return () => void (t.live = false);
    },
    send: (hostId, msg) => {
      sent.push(msg);
      const host = names[hostId - 1]!;
      queueMicrotask(() => {
        const how = script[host]!;
        if (how === "refuse") router.deliver(hostId, { type: "command_result", requestId: msg.requestId, status: "failed", error: "sha256 mismatch" });
        if (how === "ok" || how === "old-version") {
          router.deliver(hostId, { type: "command_result", requestId: msg.requestId, status: "ok" });
          router.hostGone(hostId, "disconnected");
          runner.registered(hostId, how === "ok" ? msg.version : "1");
        }
        if (how === "no-result-but-back") {
          router.hostGone(hostId, "disconnected");
          runner.registered(hostId, "1"); // a reconnect on the old version first: not an end
          runner.registered(hostId, msg.version);
        }
      });
      return true;
    },
  });
  /** Runs timers due by `ms` from now. */
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers) if (t.live && t.at <= now) {
      t.live = false;
      t.f();
    }
    await Bun.sleep(0);
  };
  const targets = names.map((h) => T(h, "1", true, idOf(h)));
  return { runner, sent, advance, targets };
}

describe("upgrade runner", () => {
  test("waves run one after the other; each host ends ok, failed or timeout with the reason", async () => {
    const h = harness({ a: "ok", c: "silent", d: "no-result-but-back", b: "refuse", e: "old-version", f: "ok" });
    const events: UpgradeEvent[] = [];
    const plan = planUpgrade(h.targets, "2", 3);
    const done = h.runner.run({ plan, targets: h.targets, path: "/api/v1/agent/binary", sha256: "0".repeat(64), timeoutMs: 1000 }, (e) => events.push(e));
    await Bun.sleep(0);
    // Wave 1 (a, c, d) is out; c never answers, so wave 2 waits for c's timeout.
    expect(h.sent.map((m) => m.version)).toEqual(["2", "2", "2"]);
    await h.advance(1000);
    await Bun.sleep(0);
    expect(h.sent).toHaveLength(6);
    const results = await done;
    const by = Object.fromEntries(results.map((r) => [r.host, r]));
    expect(by.a).toMatchObject({ status: "ok", fromVersion: "1", version: "2", error: null });
    expect(by.b).toMatchObject({ status: "failed", version: "1" });
    expect(by.b!.error).toContain("sha256 mismatch");
    expect(by.c).toMatchObject({ status: "timeout" });
    expect(by.c!.error).toContain("master.upgrade.timeout");
    expect(by.d).toMatchObject({ status: "ok", version: "2" });
    expect(by.e).toMatchObject({ status: "failed", version: "1" });
    expect(by.f).toMatchObject({ status: "ok" });
    expect(events.map((e) => e.type)).toEqual(["plan", "wave", "host", "host", "host", "wave", "host", "host", "host", "done"]);
    // Wave 2 had 2 of 3 failed, more than half; it was the last, so nothing is skipped.
    expect(events.at(-1)).toMatchObject({ type: "done", ok: 3, failed: 3, skipped: 0 });
  });

  test("after a wave where more than half failed, the rest is skipped", async () => {
    const h = harness({ a: "refuse", b: "refuse", c: "ok", d: "ok" });
    const events: UpgradeEvent[] = [];
    const results = await h.runner.run({ plan: planUpgrade(h.targets, "2", 2), targets: h.targets, path: "/p", sha256: "0".repeat(64), timeoutMs: 1000 }, (e) => events.push(e));
    expect(results.map((r) => [r.host, r.status])).toEqual([["a", "failed"], ["b", "failed"], ["c", "skipped"], ["d", "skipped"]]);
    expect(h.sent).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: "done", stopped: true, skipped: 2, failed: 2 });
  });
});
