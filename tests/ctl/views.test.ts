import { describe, expect, test } from "bun:test";
import { AUDIT_RESULT_WIDTH, auditTable, hostsTable, LOAD_COLUMNS, LOAD_FIELDS_WIDE, loadTable, sortLoadRows, statusText, tokensTable } from "../../src/ctl/views.ts";
import { AUDIT_ROWS, HOST_ROWS, LOAD_ROWS, LONG_RESULT, STATUS, TOKEN_ROWS } from "./fake-master.ts";

const header = (text: string) => text.split("\n")[0]!.split(/\s+/);

describe("loadTable", () => {
  test("has the lsload columns and one line per host", () => {
    const text = loadTable(LOAD_ROWS);
    expect(header(text)).toEqual(["HOST", "STATUS", "R1M", "R5M", "R15M", "UT", "MEMFREE", "SWPFREE", "NCPU", "JOBS", "AGE"]);
    const lines = text.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]!.split(/\s+/)).toEqual(["alpha", "ok", "0.52", "0.40", "0.31", "13%", "7.8G", "512M", "8", "2", "1s"]);
  });

  test("a host without a report shows dashes, not zeros", () => {
    const beta = loadTable(LOAD_ROWS).split("\n")[2]!.split(/\s+/);
    expect(beta.slice(0, 2)).toEqual(["beta", "unavail"]);
    expect(beta.slice(2).every((c) => c === "-")).toBe(true);
  });

  test("-l adds USR SYS PEND PROCS LOSS%", () => {
    const text = loadTable(LOAD_ROWS, true);
    expect(header(text)).toEqual(["HOST", "STATUS", "R1M", "R5M", "R15M", "UT", "USR", "SYS", "MEMFREE", "SWPFREE", "NCPU", "JOBS", "PEND", "PROCS", "LOSS%", "AGE"]);
    expect(text.split("\n")[1]!.split(/\s+/)).toEqual(["alpha", "ok", "0.52", "0.40", "0.31", "13%", "11%", "2%", "7.8G", "512M", "8", "2", "1", "312", "0.3", "1s"]);
  });

  test("a down host's stale values are '-'; what is still true (status, loss, age) stays", () => {
    const row = { ...LOAD_ROWS[0]!, host: "gone", status: "unavail", ageMs: 3_600_000 };
    const cells = loadTable([row], { fields: LOAD_FIELDS_WIDE }).split("\n")[1]!.split(/\s+/);
    expect(cells[0]).toBe("gone");
    expect(cells[2]).toBe("unavail");
    expect(cells.slice(3, -4).every((c) => c === "-")).toBe(true);
    expect(cells.at(-1)).toBe("1h");
  });

  test("fields chosen by name, in the order given; no header on request", () => {
    expect(loadTable(LOAD_ROWS, { fields: ["host", "load1", "memUsed"], header: false })).toBe("alpha  0.52  2.0G\nbeta      -     -");
    expect(header(loadTable(LOAD_ROWS, { fields: LOAD_FIELDS_WIDE }))).toEqual(LOAD_FIELDS_WIDE.map((f) => LOAD_COLUMNS[f]!.title));
  });

  test("sorted by a field, ascending or (-FIELD) descending, missing values last, then by name", () => {
    const rows = [
      { host: "c", load1: 1 },
      { host: "a", load1: 2 },
      { host: "b", load1: null },
      { host: "d", load1: 1 },
    ];
    expect(sortLoadRows(rows, "load1").map((r) => r.host)).toEqual(["c", "d", "a", "b"]);
    expect(sortLoadRows(rows, "-load1").map((r) => r.host)).toEqual(["a", "c", "d", "b"]);
    expect(sortLoadRows(rows, "host").map((r) => r.host)).toEqual(["a", "b", "c", "d"]);
    expect(() => sortLoadRows(rows, "nope")).toThrow('unknown field "nope"');
  });

  test("UT falls back to 100 - idle when user/sys are missing", () => {
    const text = loadTable([{ host: "x", status: "ok", cpuIdle: 75 }]);
    expect(text.split("\n")[1]!.split(/\s+/)[5]).toBe("25%");
  });
});

describe("hostsTable", () => {
  test("has the columns, CONN yes/no and the agent's own status", () => {
    const text = hostsTable(HOST_ROWS.map((r, i) => ({ ...r, agentStatus: i === 0 ? "degraded" : "offline" })));
    expect(header(text)).toEqual(["HOST", "ID", "STATUS", "NCPU", "MEMTOTAL", "GPUS", "OS", "VERSION", "CONN", "AGENT", "JOBS", "REASON"]);
    const lines = text.split("\n");
    expect(lines[1]).toMatch(/^alpha\s+1\s+ok\s+8\s+16G\s+0\s+linux 6\.1\s+0\.1\.0\s+yes\s+degraded\s+-\s+-$/);
    expect(lines[2]).toMatch(/^beta\s+2\s+unavail\s+2\s+4\.0G\s+1\s+-\s+0\.1\.0\s+no\s+offline\s+-\s+-$/);
  });

  test("JOBS marks a master's host that takes no jobs (agent.jobs.onMaster off)", () => {
    const rows = [
      { ...HOST_ROWS[0]!, agentStatus: "online", onMaster: true, takesJobs: false },
      { ...HOST_ROWS[0]!, host: "gamma", agentStatus: "online", onMaster: true, takesJobs: true },
      { ...HOST_ROWS[0]!, host: "delta", agentStatus: "online", onMaster: false, takesJobs: true },
    ];
    const lines = hostsTable(rows).split("\n");
    expect(lines[1]).toMatch(/\sno \(master\)\s+-$/);
    expect(lines[2]).toMatch(/\syes\s+-$/);
    expect(lines[3]).toMatch(/\syes\s+-$/);
  });

  test("REASON says why a host is drained", () => {
    const rows = [
      { ...HOST_ROWS[0]!, status: "drained", drained: true, drainReason: "disk swap", agentStatus: "online" },
      { ...HOST_ROWS[0]!, host: "gamma", status: "drained", drained: true, drainReason: null, agentStatus: "online" },
    ];
    const lines = hostsTable(rows).split("\n");
    expect(lines[1]).toMatch(/yes\s+online\s+-\s+disk swap$/);
    expect(lines[2]).toMatch(/yes\s+online\s+-\s+\(none given\)$/);
  });
});

describe("statusText", () => {
  test("master, hosts by state, accepted and each nonzero drop reason", () => {
    const text = statusText(STATUS);
    expect(text).toContain("master    0.1.0 (commit abc1234), node 1, up 2m");
    expect(text).toContain("hosts     2 total: 1 ok, 0 busy, 0 drained, 1 unavail, 0 unreach");
    expect(text).toContain("ingest    1234 reports accepted; dropped: 3 bad_tag, 1 replay");
    expect(text).not.toContain("short");
    expect(text).toContain("kernel    machine-wide UDP since boot: receive buffer errors 0, input errors 0");
    // A master that says so: the machine-wide counters since it started, its own socket's drops apart.
    const since = statusText({ ...STATUS, ingest: { ...STATUS.ingest, kernel: { socketDrops: 7, rcvbufErrors: 20, inErrors: 30 }, kernelSinceStart: { rcvbufErrors: 2, inErrors: 3 } } });
    expect(since).toContain("kernel    machine-wide UDP since this master started: receive buffer errors 2, input errors 3\n          this master's UDP socket: 7 datagrams dropped (buffer full)");
    expect(text).toContain("sessions  1");
  });

  test("no drops says none; insecure mode is shouted", () => {
    const text = statusText({ ...STATUS, master: { ...STATUS.master, insecure: true }, ingest: { accepted: 0, dropped: { short: 0 }, kernel: null } });
    expect(text).toContain("dropped: none");
    expect(text).toContain("INSECURE");
    expect(text).not.toContain("kernel");
  });
});

describe("tokensTable", () => {
  test("has the columns, compact times and '-' for none", () => {
    const lines = tokensTable(TOKEN_ROWS).split("\n");
    expect(header(lines[0]!)).toEqual(["JTI", "ROLE", "SUBJECT", "HOST", "CREATED", "EXPIRES", "REVOKED"]);
    expect(lines[1]).toMatch(/^j1\s+admin\s+bootstrap\s+-\s+2026-11-22 21:04\s+-\s+-$/);
    expect(lines[2]).toMatch(/^j2\s+agent\s+rack1\s+alpha\s+2026-11-22 21:05\s+2027-11-22 21:05\s+2026-12-01 08:30$/);
  });

  test("an empty list is the header alone", () => {
    expect(tokensTable([]).split("\n")).toHaveLength(1);
  });
});

describe("auditTable", () => {
  test("has the columns, times to the second, '-' for no target", () => {
    const lines = auditTable(AUDIT_ROWS).split("\n");
    expect(header(lines[0]!)).toEqual(["TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "RESULT"]);
    expect(lines[1]).toMatch(/^2026-11-22 21:04:09\s+bootstrap\s+admin\s+token\.create\s+j2\s+ok$/);
    expect(lines[3]).toMatch(/\shost\.remove\s+-\s+refused: 401 unauthorized$/);
  });

  test("RESULT is cut to AUDIT_RESULT_WIDTH", () => {
    const line = auditTable(AUDIT_ROWS).split("\n")[2]!;
    const result = line.slice(line.indexOf("refused"));
    expect(result).toHaveLength(AUDIT_RESULT_WIDTH);
    expect(result).toBe(LONG_RESULT.slice(0, AUDIT_RESULT_WIDTH - 1) + "…");
  });
});
