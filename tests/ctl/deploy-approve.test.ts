/** ctl's pure parts for deploy and approvals: the request from the flags (exit 2 before anything is sent), the approvals table. */
import { expect, test } from "bun:test";
import { deployRequest } from "../../src/ctl/deploy.ts";
import { approvalId } from "../../src/ctl/approve.ts";
import { approvalsTable } from "../../src/ctl/views.ts";
import { exitCodeOf as usage } from "../helpers/exit-code.ts";

test("deployRequest: targets, parameters, wave size, continue, timeout", () => {
  expect(deployRequest({ hosts: "a,b", "wave-size": "2", continue: true, timeout: "90" }, "web", ["branch=main", "env=prod=eu"])).toEqual({
    hosts: ["a", "b"], name: "web", params: { branch: "main", env: "prod=eu" }, waveSize: 2, continue: true, timeoutSec: 90,
  });
  expect(deployRequest({ all: true }, "web", ["empty="])).toEqual({ all: true, name: "web", params: { empty: "" } });
});

test.each([
  [{ all: true }, "../web", []],
  [{ all: true }, "web", ["branch"]],
  [{ all: true }, "web", ["=x"]],
  [{ all: true }, "web", ["PATH=/tmp"]],
  [{ all: true }, "web", ["a=1", "a=2"]],
  [{ all: true }, "web", [`a=${"x".repeat(4097)}`]],
  [{ all: true }, "web", ["a=x\u0000y"]],
  [{ all: true }, "web", Array.from({ length: 33 }, (_, i) => `p${i}=x`)],
  [{ all: true, "wave-size": "0" }, "web", []],
  [{ all: true, "wave-size": "1001" }, "web", []],
  [{ all: true, timeout: "0" }, "web", []],
  [{}, "web", []],
] as const)("deployRequest refuses %p %p %p with exit 2", (flags, name, params) => {
  expect(usage(() => deployRequest(flags, name, params))).toBe(2);
});

test("approvalId: one whole number", () => {
  expect(approvalId({ _: ["12"] }, "approve")).toBe("12");
  for (const bad of [["0"], ["x"], ["1", "2"], ["-1"], ["1.5"]]) expect(usage(() => approvalId({ _: bad }, "approve"))).toBe(2);
});

test("approvals table: pending by default, DECIDED BY with --all", () => {
  const rows = [{ id: 3, kind: "exec", state: "pending", requester: "alice", expiresAt: "2030-01-02T03:04:05.000Z", summary: "reboot on all (3 hosts)", decidedBy: null }];
  const t = approvalsTable(rows, false).split("\n");
  expect(t[0]).toMatch(/^ID\s+KIND\s+STATE\s+REQUESTER\s+EXPIRES\s+WHAT$/);
  expect(t[1]).toMatch(/^ 3\s+exec\s+pending\s+alice\s+2030-01-02 03:04:05\s+reboot on all \(3 hosts\)$/);
  expect(approvalsTable(rows, true).split("\n")[0]).toContain("DECIDED BY");
});
