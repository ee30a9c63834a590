/** Arrays, dependencies and output patterns: the pure parts (docs/jobs.md). */
import { describe, expect, test } from "bun:test";
import { arraySummaryState, expandOutputPath, judgeDeps, outputPathProblem, parseArraySpec, parseElementRef, type TargetState } from "../../src/jobs/index.ts";

describe("--array A-B[:STEP][%MAX]", () => {
  test("ranges, steps and limits", () => {
    expect(parseArraySpec("1-1000%50")).toEqual({ spec: "1-1000%50", first: 1, last: 1000, step: 1, count: 1000, maxRunning: 50 });
    expect(parseArraySpec("0-9:2")).toEqual({ spec: "0-9:2", first: 0, last: 8, step: 2, count: 5 });
    expect(parseArraySpec("5-5")).toMatchObject({ count: 1 });
  });
  test("bad specs say what is wrong", () => {
    expect(parseArraySpec("10-1")).toMatch(/below the first/);
    expect(parseArraySpec("1-1000%0")).toMatch(/%MAX must be at least 1/);
    expect(parseArraySpec("1-200000")).toMatch(/at most 100000/);
    expect(parseArraySpec("x")).toMatch(/A-B\[:STEP\]\[%MAX\]/);
    expect(parseArraySpec("1-10:0")).toMatch(/step/);
  });
  test("elements: ID[INDEX] and ID_INDEX", () => {
    expect(parseElementRef("1000[7]")).toEqual({ arrayId: 1000, index: 7 });
    expect(parseElementRef("1000_7")).toEqual({ arrayId: 1000, index: 7 });
    expect(parseElementRef("1000")).toBeNull();
  });
});

describe("dependencies", () => {
  const states: Record<number, TargetState> = { 1: "DONE", 2: "EXIT", 3: "RUN", 4: "KILLED" };
  const of = (id: number) => states[id] ?? null;
  test("after-ok waits for DONE, never on another end", () => {
    expect(judgeDeps({ afterOk: [1] }, of)).toEqual({ kind: "ready" });
    expect(judgeDeps({ afterOk: [3] }, of)).toEqual({ kind: "wait", reason: "waiting for job 3 (RUN) to end DONE" });
    expect(judgeDeps({ afterOk: [1, 2] }, of)).toEqual({ kind: "never", reason: "dependency never satisfied: --after-ok 2, and job 2 ended EXIT" });
  });
  test("after-any waits for any end; after-not-ok for a failure", () => {
    expect(judgeDeps({ afterAny: [2, 4] }, of)).toEqual({ kind: "ready" });
    expect(judgeDeps({ afterNotOk: [2] }, of)).toEqual({ kind: "ready" });
    expect(judgeDeps({ afterNotOk: [1] }, of).kind).toBe("never");
  });
  test("a job that does not exist can never be waited for", () => {
    expect(judgeDeps({ afterAny: [99] }, of).kind).toBe("never");
  });
  test("an array has ended when every element has; DONE only if every element is", () => {
    expect(arraySummaryState({ DONE: 3, RUN: 1 })).toBe("RUN");
    expect(arraySummaryState({ DONE: 3, PEND: 1 })).toBe("PEND");
    expect(arraySummaryState({ DONE: 3 })).toBe("DONE");
    expect(arraySummaryState({ DONE: 3, EXIT: 1, KILLED: 1 })).toBe("EXIT");
  });
});

describe("-o / -e patterns", () => {
  test("%j is the job (an element's array), %a the index, %% a percent", () => {
    expect(expandOutputPath("out.%j.%a.log", { jobId: 1007, arrayId: 1000, arrayIndex: 7 })).toBe("out.1000.7.log");
    expect(expandOutputPath("out.%j%a-100%%", { jobId: 5 })).toBe("out.5-100%");
  });
  test("unknown patterns and NUL are refused", () => {
    expect(outputPathProblem("out.%x", "-o")).toMatch(/unknown pattern %x/);
    expect(outputPathProblem("a\0b", "-e")).toMatch(/NUL/);
    expect(outputPathProblem("/tmp/%j.out", "-o")).toBeNull();
  });
});
