/**
 * Health reports through the real agent and the fake master: the answer to
 * health_check (agent, memory from the fake /proc, one disk check per real
 * filesystem of a fixture mount table, configured Nagios-style commands),
 * the report after each registration, and the periodic one.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { StatfsLike } from "../../src/agent/health/index.ts";
import { HealthSchema } from "../../src/control/index.ts";
import { VERSION } from "../../src/version.ts";
import { waitFor } from "../helpers/wait.ts";
import { cleanUp, forRequest, startRig } from "./harness.ts";

afterEach(cleanUp);

const GIB = 1024 ** 3;
const BSIZE = 4096;
/** statfs of the fixture's filesystems: / is 81 % used with 12.3 GiB free, /data 97 % used. */
const FILESYSTEMS: Record<string, StatfsLike> = {
  "/": { bsize: BSIZE, blocks: (100 * GIB) / BSIZE, bfree: (19 * GIB) / BSIZE, bavail: Math.round((12.3 * GIB) / BSIZE) },
  "/data": { bsize: BSIZE, blocks: (10 * GIB) / BSIZE, bfree: (0.3 * GIB) / BSIZE, bavail: (0.3 * GIB) / BSIZE },
};
const statfs = (p: string): StatfsLike => {
  const s = FILESYSTEMS[p];
  if (!s) throw Object.assign(new Error(`no such fixture filesystem ${p}`), { code: "ENOENT" });
  return s;
};
const MOUNTS = ["proc /proc proc rw 0 0", "/dev/fake1 / ext4 rw 0 0", "tmpfs /run tmpfs rw 0 0", "/dev/fake2 /data xfs rw 0 0", "/dev/fake3 /gone ext4 rw 0 0", ""].join("\n");

const checks = [
  { name: "ok-check", argv: ["sh", "-c", "echo 'ALL GOOD | t=1'; echo second line; exit 0"] },
  { name: "warn-check", argv: ["sh", "-c", "echo queue long; exit 1"] },
  { name: "crit-check", argv: ["sh", "-c", "echo 'db down' >&2; exit 2"] },
  { name: "odd-check", argv: ["sh", "-c", "exit 3"] },
  { name: "slow-check", argv: ["sleep", "30"], timeout: 0.2 },
  { name: "missing-check", argv: ["lava-no-such-check-xyz"] },
  { name: "memory", argv: ["true"] },
];

describe("health", () => {
  test("health_check is answered with every check, each judged; the report validates", async () => {
    const { m } = await startRig({ health: { checks } }, { health: { statfs } }, (procRoot) => writeFileSync(join(procRoot, "mounts"), MOUNTS));
    m.sendJson({ type: "health_check", requestId: "h1" });
    const h = await waitFor(() => forRequest(m, "health", "h1")[0], 8000, "the health answer");
    expect(v.safeParse(HealthSchema, h).success).toBe(true);
    expect(typeof h.at).toBe("number");
    const c = h.checks as Record<string, { status: string; detail: string }>;
    expect(Object.keys(c).sort()).toEqual(["agent", "check:memory", "crit-check", "disk:/", "disk:/data", "disk:/gone", "memory", "missing-check", "odd-check", "ok-check", "slow-check", "warn-check"].sort());
    expect(c.agent!.status).toBe("ok");
    expect(c.agent!.detail).toMatch(new RegExp(`^lava ${VERSION.replace(/\./g, "\\.")}, up \\d+s$`));
    // The fake /proc: 8 GiB, 4 GiB available.
    expect(c.memory).toEqual({ status: "ok", detail: "50% used, 4.0 GiB available of 8.0 GiB" });
    expect(c["disk:/"]).toEqual({ status: "warning", detail: "87% used, 12.3 GiB free" });
    expect(c["disk:/data"]).toEqual({ status: "critical", detail: "97% used, 307.2 MiB free" });
    expect(c["disk:/gone"]).toEqual({ status: "unknown", detail: "statfs /gone: ENOENT" });
    expect(c["ok-check"]).toEqual({ status: "ok", detail: "ALL GOOD | t=1" });
    expect(c["warn-check"]).toEqual({ status: "warning", detail: "queue long" });
    expect(c["crit-check"]).toEqual({ status: "critical", detail: "db down" });
    expect(c["odd-check"]).toEqual({ status: "unknown", detail: "exit code 3" });
    expect(c["slow-check"]).toEqual({ status: "unknown", detail: "timeout after 0.2 s (killed)" });
    expect(c["missing-check"]!.status).toBe("unknown");
    expect(c["missing-check"]!.detail).toContain("command not found");
    expect(c["check:memory"]).toEqual({ status: "ok", detail: "exit code 0" });
  }, 15_000);

  test("without a mount table the disks are one unknown check saying why", async () => {
    const { m, procRoot } = await startRig();
    m.sendJson({ type: "health_check", requestId: "h2" });
    const h = await waitFor(() => forRequest(m, "health", "h2")[0], 5000, "the health answer");
    expect((h.checks as Record<string, unknown>).disk).toEqual({ status: "unknown", detail: `cannot read the mount table ${join(procRoot, "mounts")}: ENOENT` });
  });

  test("a report goes out right after each registration, and every agent.health.interval", async () => {
    const { m, agent } = await startRig({ health: { interval: 1 } });
    const unsolicited = () => m.ofType("health").filter((h) => h.requestId === undefined);
    await waitFor(() => unsolicited().length >= 1, 5000, "the report after registration");
    const first = unsolicited()[0]!;
    // Right after registration: well before the first interval has passed.
    expect(m.fromAgent.indexOf(first)).toBeGreaterThan(m.fromAgent.findIndex((x) => x.type === "status"));
    await waitFor(() => unsolicited().length >= 2, 5000, "a periodic report");
    const n = unsolicited().length;
    m.dropConnections();
    await waitFor(() => agent.status().registrations === 2, 5000, "registered again");
    await waitFor(() => unsolicited().length > n, 5000, "a report after the second registration");
    expect(agent.status().healthReportsSent).toBeGreaterThanOrEqual(n + 1);
  }, 15_000);
});
