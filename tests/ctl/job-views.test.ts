import { describe, expect, test } from "bun:test";
import { formatArgv, JOBS_COMMAND_WIDTH, jobsTable, jobText } from "../../src/ctl/views.ts";
import { jobRows, listJob } from "./fake-master.ts";

describe("formatArgv", () => {
  test("plain words as they are; empty, spaced or shell-special ones quoted", () => {
    expect(formatArgv(["ls", "-l", "/tmp/x.txt", "--a=b,c"])).toBe("ls -l /tmp/x.txt --a=b,c");
    expect(formatArgv(["echo", "", "a b", "it's", "$HOME", "a;b"])).toBe(`echo '' 'a b' 'it'\\''s' '$HOME' 'a;b'`);
    expect(formatArgv(null)).toBe("-");
  });
});

describe("jobsTable", () => {
  test("COMMAND is cut to JOBS_COMMAND_WIDTH, MEM is '-' with none reserved", () => {
    const lines = jobsTable(jobRows().map(listJob)).split("\n");
    const pend = lines[3]!;
    expect(pend.slice(pend.indexOf("python3")).length).toBe(JOBS_COMMAND_WIDTH);
    expect(lines[1]!.split(/\s+/).filter(Boolean)[6]).toBe("-");
  });

  test("a row with missing fields shows dashes, not a failure", () => {
    const lines = jobsTable([{ id: 9 }]).split("\n");
    expect(lines[1]!.trim().split(/\s+/)).toEqual(["9", "-", "-", "-", "-", "-", "-", "-", "-"]);
  });

  test("control characters in a command cannot break the layout", () => {
    const text = jobsTable([{ id: 1, argv: ["printf", "a\nb\u001b[2J"] }]);
    expect(text.split("\n")).toHaveLength(2);
    expect(text).not.toContain("\u001b");
  });
});

describe("jobText", () => {
  test("'waiting' only for a pending job", () => {
    const [done, , pend] = jobRows();
    expect(jobText(pend!)).toMatch(/^waiting\s+needs 32 cpus/m);
    expect(jobText({ ...done!, waiting: "stale" })).not.toContain("waiting");
  });

  test("sections in order: facts, history, stdout, stderr", () => {
    const text = jobText(jobRows()[0]!);
    const at = (s: string) => text.indexOf(s);
    expect(at("job ")).toBe(0);
    expect(at("history:")).toBeGreaterThan(at("finished"));
    expect(at("stdout:")).toBeGreaterThan(at("history:"));
    expect(at("stderr: empty")).toBeGreaterThan(at("stdout:"));
    expect(text).toMatch(/^attempts\s+1 \(retries allowed: 2\)$/m);
    expect(text).toMatch(/^TIME\s+STATE\s+HOST\s+ATTEMPT\s+REASON$/m);
  });

  test("a job with only the list fields still renders, with dashes", () => {
    const text = jobText({ id: 5, state: "RUN" });
    expect(text).toMatch(/^host\s+-$/m);
    expect(text).toMatch(/^time limit\s+none$/m);
    expect(text).not.toContain("stdout");
    expect(text).not.toContain("history");
  });
});
