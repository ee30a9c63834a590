/**
 * Alerts through the real agent and the fake master: a rule on load1 fires
 * when the fake /proc says so, is sent once while it stays active, does not
 * resolve between the clear level and the threshold, resolves below the
 * clear level, and is sent again after a re-registration while firing. A
 * disk rule reads the fullest filesystem of a fixture mount table.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { AlertSchema } from "../../src/control/index.ts";
import { waitFor } from "../helpers/wait.ts";
import { cleanUp, HOSTNAME, startRig } from "./harness.ts";

afterEach(cleanUp);

const setLoad1 = (procRoot: string, load1: number) => writeFileSync(join(procRoot, "loadavg"), `${load1.toFixed(2)} 1.25 1.00 3/321 4242\n`);

const loadRule = { name: "load-high", metric: "load1", op: ">", threshold: 5, clear: 3, for: 0, severity: "critical" };

describe("alerts", () => {
  test("fires once, holds between the clear level and the threshold, resolves below the clear level", async () => {
    const { m, agent, procRoot } = await startRig({ alerts: { rules: [loadRule], interval: 0.05 } });
    const evaluated = async (n: number) => {
      const target = agent.status().alertEvaluations + n;
      await waitFor(() => agent.status().alertEvaluations >= target, 5000, `${n} more evaluations`);
    };
    await evaluated(3);
    expect(m.ofType("alert")).toEqual([]); // load1 1.5

    setLoad1(procRoot, 9);
    const fired = await waitFor(() => m.ofType("alert")[0], 5000, "the alert firing");
    expect(fired).toEqual({ type: "alert", id: `${HOSTNAME}:load-high`, rule: "load-high", severity: "critical", state: "firing", message: "load1 9 > 5", value: 9, at: expect.any(Number) });
    expect(v.safeParse(AlertSchema, fired).success).toBe(true);
    expect(Math.abs((fired.at as number) - Date.now())).toBeLessThan(60_000);
    await evaluated(3);
    expect(m.ofType("alert")).toHaveLength(1); // deduplicated while active
    expect(agent.status().alertsFiring).toBe(1);

    setLoad1(procRoot, 4); // between clear (3) and threshold (5): still active
    await evaluated(3);
    expect(m.ofType("alert")).toHaveLength(1);

    setLoad1(procRoot, 2);
    const resolved = await waitFor(() => m.ofType("alert")[1], 5000, "the alert resolved");
    expect(resolved).toMatchObject({ id: `${HOSTNAME}:load-high`, state: "resolved", value: 2, message: "load1 2: no longer > 3; resolved" });
    await evaluated(3);
    expect(m.ofType("alert")).toHaveLength(2);
    expect(agent.status().alertsFiring).toBe(0);
  }, 20_000);

  test("after a re-registration the alerts still firing are sent again (the same message); a resolve that found no channel is sent then", async () => {
    const { m, agent, procRoot } = await startRig({ alerts: { rules: [loadRule, { ...loadRule, name: "load-low", op: "<", threshold: 100, clear: 100, severity: "info" }], interval: 0.05 } });
    setLoad1(procRoot, 9);
    await waitFor(() => m.ofType("alert").length === 2, 5000, "both alerts firing");
    const [high] = m.ofType("alert").filter((a) => a.rule === "load-high");
    // Down: load-high resolves meanwhile, load-low keeps firing.
    m.refuse = true;
    m.dropConnections();
    await waitFor(() => agent.status().state !== "registered", 5000, "the drop");
    setLoad1(procRoot, 1);
    await waitFor(() => agent.status().alertsFiring === 1, 5000, "load-high resolved while away");
    expect(m.ofType("alert")).toHaveLength(2);
    const mark = m.fromAgent.length;
    m.refuse = false;
    await waitFor(() => m.fromAgent.slice(mark).filter((x) => x.type === "alert").length >= 2, 10_000, "alerts after the re-registration");
    const again = m.fromAgent.slice(mark).filter((x) => x.type === "alert");
    expect(again.find((a) => a.rule === "load-low")).toEqual(m.ofType("alert").find((a) => a.rule === "load-low")); // same message, same `at`
    expect(again.find((a) => a.rule === "load-high")).toMatchObject({ state: "resolved", value: 1 });
    expect(high).toMatchObject({ state: "firing" });
  }, 20_000);

  test("the disk metric is the fullest real filesystem", async () => {
    const statfs = (p: string) => (p === "/" ? { bsize: 1, blocks: 100, bfree: 50, bavail: 50 } : { bsize: 1, blocks: 100, bfree: 10, bavail: 10 });
    const { m } = await startRig(
      { alerts: { rules: [{ name: "disk-full", metric: "disk", op: ">", threshold: 80, clear: 78, for: 0, severity: "warning" }], interval: 0.05 } },
      { health: { statfs } },
      (procRoot) => writeFileSync(join(procRoot, "mounts"), "/dev/a / ext4 rw 0 0\n/dev/b /data ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n"),
    );
    const a = await waitFor(() => m.ofType("alert")[0], 5000, "the disk alert");
    expect(a).toMatchObject({ id: `${HOSTNAME}:disk-full`, state: "firing", severity: "warning", value: 90, message: "disk 90 % > 80 %" });
  }, 10_000);
});
