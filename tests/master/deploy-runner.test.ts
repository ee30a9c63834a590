/** The deploy wave runner (src/master/deploy/runner.ts) with a fake channel: waves, the stop rule, --continue. */
import { expect, test } from "bun:test";
import type { Deploy, Execute } from "../../src/control/index.ts";
import { runDeploy, type DeployEvent } from "../../src/master/deploy/runner.ts";
import { RequestRouter } from "../../src/master/requests/router.ts";
import type { Target } from "../../src/master/requests/targets.ts";

const T = (i: number, connected = true): Target => ({ host: `h${i}`, entry: { hostname: `h${i}`, hostId: i, connected, version: "v" } });

/** Every deploy is answered at once with exit code `exit(hostId)`. */
function run(targets: Target[], waveSize: number, exit: (hostId: number) => number, continueOnFailure = false) {
  let n = 0;
  const router = new RequestRouter(() => 0, () => `r${++n}`);
  const sent: { hostId: number; msg: Execute | Deploy }[] = [];
  const events: DeployEvent[] = [];
  const done = runDeploy(targets, { name: "web", params: { branch: "main" }, timeoutMs: 1000, waveSize, continueOnFailure }, {
    router,
    nowMs: () => 0,
    send: (hostId, msg) => {
      sent.push({ hostId, msg });
      queueMicrotask(() => router.deliver(hostId, { type: "command_result", requestId: msg.requestId, status: "ok", exitCode: exit(hostId) }));
      return true;
    },
  }, (e) => events.push(e));
  return { done, sent, events };
}

test("waves in order; a failure in a wave skips the later waves", async () => {
  const r = run([1, 2, 3, 4, 5].map((i) => T(i)), 2, (id) => (id === 2 ? 1 : 0));
  expect(await r.done).toEqual({ ok: 1, failed: 1, skipped: 3, stopped: true });
  expect(r.sent.map((s) => s.hostId)).toEqual([1, 2]);
  expect(r.sent[0]!.msg).toMatchObject({ type: "deploy", name: "web", params: { branch: "main" }, timeoutMs: 1000 });
  expect(r.events.filter((e) => e.type === "wave").map((e) => (e as { hosts: string[] }).hosts)).toEqual([["h1", "h2"]]);
  expect(r.events.filter((e) => e.type === "result" && e.status === "skipped").map((e) => (e as { host: string }).host)).toEqual(["h3", "h4", "h5"]);
  expect(r.events.at(-1)).toEqual({ type: "done", hosts: 5, ok: 1, failed: 1, skipped: 3, stopped: true });
});

test("with continueOnFailure every wave runs", async () => {
  const r = run([1, 2, 3, 4].map((i) => T(i)), 2, (id) => (id === 1 ? 1 : 0), true);
  expect(await r.done).toEqual({ ok: 3, failed: 1, skipped: 0, stopped: false });
  expect(r.sent.map((s) => s.hostId)).toEqual([1, 2, 3, 4]);
});

test("a host without a channel fails its wave without being sent anything", async () => {
  const r = run([T(1), T(2, false), T(3)], 2, () => 0);
  expect(await r.done).toEqual({ ok: 1, failed: 1, skipped: 1, stopped: true });
  expect(r.sent.map((s) => s.hostId)).toEqual([1]);
});

test("a failure in the last wave does not count as stopping", async () => {
  const r = run([T(1), T(2)], 1, (id) => (id === 2 ? 1 : 0));
  expect(await r.done).toEqual({ ok: 1, failed: 1, skipped: 0, stopped: false });
});
