import { exitStatusOf } from "../../src/main.ts";
import { describe, expect, test } from "bun:test";
import { EXIT } from "../../src/cli/errors.ts";
import { LavaError } from "../../src/errors.ts";
import { auditQuery } from "../../src/ctl/audit.ts";

const NOW = Date.UTC(2026, 10, 22, 21, 0, 0);

function usageError(args: Parameters<typeof auditQuery>[0]): string {
  try {
    auditQuery(args, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(LavaError);
    expect(exitStatusOf(error)).toBe(EXIT.usage);
    return (error as Error).message;
  }
  throw new Error("expected a usage error");
}

describe("auditQuery", () => {
  test("no flags, no query", () => {
    expect(auditQuery({}, NOW)).toBe("");
  });

  test("times pass through as given: duration, ISO 8601, epoch ms", () => {
    expect(new URLSearchParams(auditQuery({ since: "7d", until: "2026-11-22T20:00:00Z" }, NOW)).get("until")).toBe("2026-11-22T20:00:00Z");
    expect(auditQuery({ since: "1.5h" }, NOW)).toBe("since=1.5h");
    expect(auditQuery({ since: "1763845200000" }, NOW)).toBe("since=1763845200000");
  });

  test("limit 1..10000 and action", () => {
    expect(auditQuery({ limit: "1", action: "host.drain" }, NOW)).toBe("limit=1&action=host.drain");
    expect(auditQuery({ limit: "10000" }, NOW)).toBe("limit=10000");
  });

  test("bad values are usage errors that say what is expected", () => {
    expect(usageError({ since: "last week" })).toContain("duration back from now like 30m");
    expect(usageError({ until: "12345" })).toContain("--until");
    expect(usageError({ since: "30m", until: "2h" })).toContain("later than --until");
    expect(usageError({ limit: "-1" })).toContain("--limit");
    expect(usageError({ limit: "" })).toContain("--limit");
    expect(usageError({ action: " " })).toContain("--action");
  });
});
