/**
 * The alert evaluator: enter and clear thresholds, `for` durations, and that
 * a value hovering at the threshold does not flap (design §5). Pure: time
 * is passed in.
 */
import { describe, expect, test } from "bun:test";
import { alertMetrics, evaluateRules, INITIAL_STATE, stepRule, type AlertRule, type RuleState } from "../../../src/agent/alerts/index.ts";
import type { Alert } from "../../../src/control/index.ts";

const rule = (r: Partial<AlertRule> = {}): AlertRule => ({ name: "cpu-high", metric: "cpu", op: ">", threshold: 90, clear: 85, for: 300, severity: "critical", ...r });

/** Feeds (second, value) samples to one rule; returns the alerts sent, with the second each came at. */
function run(r: AlertRule, samples: [number, number | undefined][]): { at: number; alert: Alert }[] {
  let state: RuleState = { ...INITIAL_STATE };
  const out: { at: number; alert: Alert }[] = [];
  for (const [s, value] of samples) {
    const step = stepRule("h1", r, state, value, { nowMs: s * 1000, wallMs: 1_700_000_000_000 + s * 1000 });
    state = step.state;
    if (step.alert) out.push({ at: s, alert: step.alert });
  }
  return out;
}

const states = (sent: { at: number; alert: Alert }[]) => sent.map((x) => [x.at, x.alert.state]);

describe("alert rules: for and hysteresis", () => {
  test("fires only after the condition held `for` seconds: cpu > 90 for 5 min", () => {
    const sent = run(rule(), [
      [0, 95],
      [100, 96],
      [299, 97],
      [300, 95],
      [310, 99],
    ]);
    expect(states(sent)).toEqual([[300, "firing"]]);
    expect(sent[0]!.alert).toEqual({
      type: "alert",
      id: "h1:cpu-high",
      rule: "cpu-high",
      severity: "critical",
      state: "firing",
      message: "cpu 95 % > 90 % for 300 s",
      value: 95,
      at: 1_700_000_300_000,
    });
  });

  test("a dip below the threshold while pending starts the wait over", () => {
    const sent = run(rule(), [
      [0, 95],
      [200, 80],
      [250, 95],
      [500, 95],
      [550, 95],
    ]);
    expect(states(sent)).toEqual([[550, "firing"]]);
  });

  test("resolves only after the clear condition held `for` seconds; a return above the clear level while clearing keeps it firing, unsent", () => {
    const sent = run(rule(), [
      [0, 95],
      [300, 95], // fires
      [400, 80], // clearing since 400
      [500, 88], // above clear 85 again: still firing, nothing sent
      [600, 80], // clearing since 600
      [899, 80],
      [900, 70], // 300 s clear: resolved
      [1000, 70],
    ]);
    expect(states(sent)).toEqual([
      [300, "firing"],
      [900, "resolved"],
    ]);
    expect(sent[1]!.alert).toMatchObject({ id: "h1:cpu-high", state: "resolved", value: 70, message: "cpu 70 %: no longer > 85 % for 300 s; resolved" });
  });

  test("a value hovering at the threshold does not flap: with for 0 and clear 85, 89-91 fires once and never resolves", () => {
    const r = rule({ for: 0 });
    const values = [89, 91, 89.5, 90.5, 89, 91, 90, 91, 88, 86, 90.1];
    const sent = run(
      r,
      values.map((v, i) => [i * 10, v]),
    );
    expect(states(sent)).toEqual([[10, "firing"]]);
  });

  test("without hysteresis (no clear) the same values would flap: the clear level is what prevents it", () => {
    const r = rule({ for: 0, clear: undefined });
    const sent = run(
      r,
      [89, 91, 89, 91].map((v, i) => [i * 10, v]),
    );
    expect(states(sent)).toEqual([
      [10, "firing"],
      [20, "resolved"],
      [30, "firing"],
    ]);
  });

  test("for 0: fires and resolves at the first evaluation where the condition holds", () => {
    const sent = run(rule({ name: "disk-full", metric: "disk", threshold: 80, clear: 78, for: 0, severity: "warning" }), [
      [0, 79],
      [10, 81],
      [20, 79], // above clear 78: still active
      [30, 77],
    ]);
    expect(states(sent)).toEqual([
      [10, "firing"],
      [30, "resolved"],
    ]);
    expect(sent[0]!.alert).toMatchObject({ id: "h1:disk-full", severity: "warning", message: "disk 81 % > 80 %" });
  });

  test("operators < and <= work the other way round (low free memory is a low number)", () => {
    const sent = run(rule({ name: "load-low", metric: "load1", op: "<", threshold: 0.5, clear: 1, for: 0 }), [
      [0, 2],
      [10, 0.4],
      [20, 0.8], // not above 1 yet: still active
      [30, 1.2],
    ]);
    expect(states(sent)).toEqual([
      [10, "firing"],
      [30, "resolved"],
    ]);
    expect(sent[0]!.alert.message).toBe("load1 0.4 < 0.5");
    expect(run(rule({ op: "<=", threshold: 1, clear: 1, for: 0, metric: "load1" }), [[0, 1]]).length).toBe(1);
    expect(run(rule({ op: ">=", threshold: 1, clear: 1, for: 0, metric: "load1" }), [[0, 1]]).length).toBe(1);
  });

  test("a clear level on the wrong side of the threshold cannot make it flap: the alert stays while the enter condition holds", () => {
    const sent = run(rule({ for: 0, clear: 95 }), [
      [0, 92],
      [10, 92],
      [20, 92],
      [30, 80],
    ]);
    expect(states(sent)).toEqual([
      [0, "firing"],
      [30, "resolved"],
    ]);
  });

  test("a metric that could not be read changes nothing, neither the phase nor the time held", () => {
    const sent = run(rule(), [
      [0, 95],
      [100, undefined],
      [200, Number.NaN],
      [300, 95],
    ]);
    expect(states(sent)).toEqual([[300, "firing"]]);
  });
});

describe("evaluateRules and the metrics", () => {
  test("each rule on its own metric, states by rule name; alerts only for changes", () => {
    const rules = [rule({ for: 0 }), rule({ name: "load", metric: "load1", threshold: -1, clear: undefined, for: 0, severity: "info" })];
    let st = new Map<string, RuleState>();
    const first = evaluateRules("h1", rules, st, { cpu: 95, load1: 0.5 }, { nowMs: 0, wallMs: 5 });
    expect(first.alerts.map((a) => a.id)).toEqual(["h1:cpu-high", "h1:load"]);
    st = first.states;
    const second = evaluateRules("h1", rules, st, { cpu: 95, load1: 0.5 }, { nowMs: 1000, wallMs: 6 });
    expect(second.alerts).toEqual([]); // deduplicated while active
    expect(second.states.get("cpu-high")!.firing!.at).toBe(5);
  });

  test("metrics from a load report: percentages, load per cpu, no cpu for the first sample, disk only when read", () => {
    const report = { load1: 3, load5: 0, load15: 0, memUsed: 6, memFree: 2, swapUsed: 1, swapFree: 3, ncpus: 2, cpuUser: 40, cpuSys: 10, cpuIdle: 50, jobsRunning: 0, jobsPending: 0, procsTotal: 1, flags: 0 };
    expect(alertMetrics(report, { cpuValid: true, diskPercent: 81 })).toEqual({ cpu: 50, mem: 75, swap: 25, load1: 3, load1PerCpu: 1.5, disk: 81 });
    expect(alertMetrics({ ...report, swapUsed: 0, swapFree: 0 }, { cpuValid: false, diskPercent: null })).toEqual({ mem: 75, swap: 0, load1: 3, load1PerCpu: 1.5 });
  });
});
