import { describe, expect, test } from "bun:test";
import { diskCheck, diskUsage, firstLine, formatBytes, formatUptime, memoryCheck, nagiosStatus, thresholdStatus } from "../../../src/agent/health/index.ts";

const GIB = 1024 ** 3;

describe("health check values", () => {
  test("Nagios exit codes: 0 ok, 1 warning, 2 critical, anything else unknown", () => {
    expect([0, 1, 2, 3, 4, 127, -1, null].map(nagiosStatus)).toEqual(["ok", "warning", "critical", "unknown", "unknown", "unknown", "unknown", "unknown"]);
  });

  test("thresholds are 'at or above'", () => {
    const t = { warn: 80, crit: 95 };
    expect([79.9, 80, 94.9, 95, 100, Number.NaN].map((p) => thresholdStatus(p, t))).toEqual(["ok", "warning", "warning", "critical", "critical", "unknown"]);
  });

  test("disk use as df computes it (reserved blocks are not free), detail like '87% used, 12.3 GiB free'", () => {
    // 4 KiB blocks: 100 GiB total, 19 GiB free of which 12.3 GiB available to users.
    const bsize = 4096;
    const blocks = (100 * GIB) / bsize;
    const bfree = (19 * GIB) / bsize;
    const bavail = Math.round((12.3 * GIB) / bsize);
    const d = diskUsage("/", { bsize, blocks, bfree, bavail });
    expect(d.usedPercent).toBeCloseTo((81 / (81 + 12.3)) * 100, 3);
    expect(diskCheck(d, { warn: 80, crit: 95 })).toEqual({ status: "warning", detail: "87% used, 12.3 GiB free" });
    expect(diskCheck(diskUsage("/x", { bsize, blocks: 0, bfree: 0, bavail: 0 }), { warn: 80, crit: 95 }).status).toBe("ok");
  });

  test("memory: used is total minus available", () => {
    const m = { memTotal: 8 * GIB, memFree: GIB, memAvailable: 0.5 * GIB, buffers: 0, cached: 0, swapTotal: 0, swapFree: 0 };
    expect(memoryCheck(m, { warn: 90, crit: 98 })).toEqual({ status: "warning", detail: "94% used, 512.0 MiB available of 8.0 GiB" });
    expect(memoryCheck({ ...m, memTotal: 0 }, { warn: 90, crit: 98 }).status).toBe("unknown");
  });

  test("first line, bytes and uptime for details", () => {
    expect(firstLine("\n\n  DISK OK - free space: / 3326 MB |/=2643MB\nmore")).toBe("DISK OK - free space: / 3326 MB |/=2643MB");
    expect(firstLine("x".repeat(900), 10)).toBe(`${"x".repeat(9)}…`);
    expect(firstLine("")).toBe("");
    expect([0, 1023, 1536, 12.3 * GIB, 3 * 1024 * GIB].map(formatBytes)).toEqual(["0 B", "1023 B", "1.5 KiB", "12.3 GiB", "3.0 TiB"]);
    expect([0, 59_000, 3_600_000, 93_784_000, 90_061_000].map(formatUptime)).toEqual(["0s", "59s", "1h", "1d 2h", "1d 1h"]);
  });
});
