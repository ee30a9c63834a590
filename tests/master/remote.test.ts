/**
 * Requests to agents through a real master (in this process) and raw
 * WebSocket agents: exec fan-out, master policy, disconnects and timeouts,
 * health, alerts with their webhook and metric, logs, and upgrade's refusal
 * when the master runs from source. `lava ctl` runs in-process against it.
 */
import { exitStatusOf } from "../../src/main.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { EXIT } from "../../src/cli/errors.ts";
import { LavaError } from "../../src/errors.ts";
import { runMain } from "../helpers/ctl.ts";
import { waitFor } from "../helpers/wait.ts";
import { LocalMaster, RawAgent, type Msg } from "./raw-agent.ts";

let master: LocalMaster;
let hook: Server<undefined>;
const hooked: Msg[] = [];
const dir = mkdtempSync(join(tmpdir(), "lava-remote-ctl-"));
const configFile = join(dir, "empty.yaml");
writeFileSync(configFile, "");
const agents: RawAgent[] = [];

beforeAll(async () => {
  hook = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      hooked.push((await req.json()) as Msg);
      return new Response("ok");
    },
  });
  master = await LocalMaster.start({ exec: { deny: ["rm"] }, alerts: { webhook: `http://127.0.0.1:${hook.port}/hook` } });
});

afterAll(async () => {
  for (const a of agents) await a.close().catch(() => {});
  await master?.stop();
  await hook?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

async function agent(name: string): Promise<RawAgent> {
  const a = await RawAgent.connect(master, name);
  agents.push(a);
  return a;
}

/** A raw agent that runs "echo"-like commands: two output chunks (the second after a pause), then exit 0. */
function echoing(a: RawAgent, exitCode = 0): void {
  a.onMessage = (m) => {
    if (m.type !== "execute") return;
    const words = (m.argv as string[]).slice(1).join(" ");
    a.send({ type: "command_output", requestId: m.requestId, stream: "stdout", data: `${a.hostname} says ` });
    setTimeout(() => {
      a.send({ type: "command_output", requestId: m.requestId, stream: "stdout", data: `${words}\nsecond line\n` });
      a.send({ type: "command_output", requestId: m.requestId, stream: "stderr", data: "a warning\n" });
      a.send({ type: "command_result", requestId: m.requestId, status: "ok", exitCode, durationMs: 12 });
    }, 20);
  };
}

function ctl(...args: string[]) {
  // The common flags go first: everything after a `--` in args is the command to run.
  const [sub, ...rest] = args;
  return runMain(["ctl", sub!, "--config", configFile, "--master", master.addr, "--token", master.adminToken, "--log-level", "error", ...rest]);
}

describe("exec through the master", () => {
  test("fans out to every host at once; output streams per host in order; one result each, then done; all audited", async () => {
    const [a, b, c] = [await agent("ex-a"), await agent("ex-b"), await agent("ex-c")];
    for (const x of [a, b, c]) echoing(x);
    const { status, lines } = await master.exec({ hosts: ["ex-a", "ex-b", "ex-c"], argv: ["/bin/echo", "hi", "there"], timeoutSec: 5 });
    expect(status).toBe(200);
    expect(lines[0]).toMatchObject({ type: "start", hosts: 3 });
    expect(lines.at(-1)).toEqual({ type: "done", hosts: 3, ok: 3, failed: 0 });
    for (const h of ["ex-a", "ex-b", "ex-c"]) {
      const mine = lines.filter((l) => l.host === h);
      expect(mine.map((l) => (l.type === "output" ? `${l.stream}:${l.data}` : l.type))).toEqual([`stdout:${h} says `, "stdout:hi there\nsecond line\n", "stderr:a warning\n", "result"]);
      expect(mine.at(-1)).toMatchObject({ status: "ok", exitCode: 0, signal: null, error: null, stdoutTruncated: false, stderrTruncated: false, durationMs: 12 });
    }
    // All three were asked before any answered: each host's first chunk comes before any host's result.
    const firstResult = lines.findIndex((l) => l.type === "result");
    expect(lines.slice(0, firstResult).filter((l) => l.type === "output" && (l.data as string).endsWith("says ")).length).toBe(3);
    const req = await waitFor(async () => (await master.audit("exec.request")).find((r) => (r.target as string) === "ex-a,ex-b,ex-c"), 5000, "exec.request audit row");
    expect(JSON.parse(req.detail as string)).toEqual({ argv: ["/bin/echo", "hi", "there"], timeoutSec: 5 });
    const results = await waitFor(async () => {
      const rows = (await master.audit("exec.result")).filter((r) => ["ex-a", "ex-b", "ex-c"].includes(r.target as string));
      return rows.length === 3 ? rows : null;
    }, 5000, "exec.result audit rows");
    expect(results.every((r) => r.result === "ok exit 0" && r.actor === "admin")).toBe(true);
  }, 20_000);

  test("unknown hosts and hosts without a control channel get per-host errors; the others still run", async () => {
    const ok = await agent("ex-ok");
    echoing(ok);
    const gone = await agent("ex-gone");
    await gone.close();
    await waitFor(async () => (await master.json<Msg[]>("/api/v1/hosts")).body.find((h) => h.host === "ex-gone" && h.connected === false), 5000, "ex-gone disconnected");
    const { lines } = await master.exec({ hosts: ["ex-ok", "nosuch", "ex-gone"], argv: ["/bin/true"] });
    const results = Object.fromEntries(lines.filter((l) => l.type === "result").map((l) => [l.host, l]));
    expect(results["ex-ok"]).toMatchObject({ status: "ok", exitCode: 0 });
    expect(results.nosuch).toMatchObject({ status: "error", error: "unknown host", exitCode: null });
    expect(results["ex-gone"]).toMatchObject({ status: "error", error: "no control channel (host unreach/unavail)" });
    expect(lines.at(-1)).toEqual({ type: "done", hosts: 3, ok: 1, failed: 2 });
  }, 20_000);

  test("master policy refuses before anything is sent, with 403, and audits exec.refused", async () => {
    const a = await agent("ex-policy");
    const { status, lines } = await master.exec({ all: true, argv: ["/bin/rm", "-rf", "/tmp/x"] });
    expect(status).toBe(403);
    expect(lines[0]).toMatchObject({ error: "refused" });
    expect(String(lines[0]!.detail)).toContain("master.exec.deny entry 'rm'");
    const row = await waitFor(async () => (await master.audit("exec.refused")).at(-1), 5000, "exec.refused row");
    expect(row).toMatchObject({ target: "all", result: "refused: master policy" });
    expect(String(row.detail)).toContain('"argv":["/bin/rm","-rf","/tmp/x"]');
    expect(a.inbox.some((m) => m.type === "execute")).toBe(false);
  }, 10_000);

  test("bad bodies are 400 with the reason", async () => {
    for (const body of [{ argv: ["x"] }, { all: true, hosts: ["a"], argv: ["x"] }, { all: true, argv: [] }, { all: true, argv: ["x"], timeoutSec: -1 }, { all: true, argv: ["x"], shell: true }]) {
      const { status, lines } = await master.exec(body);
      expect(status).toBe(400);
      expect(lines[0]!.error).toBe("bad_request");
    }
    expect((await master.exec({ queue: "nope", argv: ["x"] })).lines[0]).toMatchObject({ error: "unknown_queue" });
  }, 10_000);

  test("a long argv is cut in the audit row, never a reason for the request to fail", async () => {
    const a = await agent("ex-long");
    echoing(a);
    const argv = ["/bin/echo", ...Array.from({ length: 200 }, (_, i) => `arg-${i}-${"x".repeat(100)}`)];
    const { status, lines } = await master.exec({ hosts: ["ex-long"], argv });
    expect(status).toBe(200);
    expect(lines.at(-1)).toMatchObject({ type: "done", ok: 1 });
    const row = await waitFor(async () => (await master.audit("exec.request")).find((r) => r.target === "ex-long"), 5000, "exec.request row");
    expect(String(row.detail).length).toBeLessThanOrEqual(4096);
    expect(String(row.detail)).toEndWith("… (cut)");
  }, 10_000);

  test("a host that disconnects mid-request gets its error at once, not at the timeout", async () => {
    const quitter = await agent("ex-quit");
    const steady = await agent("ex-steady");
    echoing(steady);
    quitter.onMessage = (m) => {
      if (m.type !== "execute") return;
      quitter.send({ type: "command_output", requestId: m.requestId, stream: "stdout", data: "partial\n" });
      setTimeout(() => quitter.ws.close(), 50);
    };
    const t0 = performance.now();
    const { lines } = await master.exec({ hosts: ["ex-quit", "ex-steady"], argv: ["/bin/echo"], timeoutSec: 60 });
    expect(performance.now() - t0).toBeLessThan(3000);
    const r = lines.find((l) => l.type === "result" && l.host === "ex-quit");
    expect(r).toMatchObject({ status: "error", error: "host disconnected mid-request" });
    expect(lines.find((l) => l.type === "result" && l.host === "ex-steady")).toMatchObject({ status: "ok" });
    expect(lines.some((l) => l.host === "ex-quit" && l.data === "partial\n")).toBe(true);
  }, 10_000);

  test("a new registration of the host (its session replaced) fails the requests sent on the old one at once", async () => {
    const first = await agent("ex-twice");
    let got: () => void;
    const executed = new Promise<void>((r) => (got = r));
    first.onMessage = (m) => {
      if (m.type === "execute") got();
    };
    const t0 = performance.now();
    const running = master.exec({ hosts: ["ex-twice"], argv: ["/bin/sleep", "100"], timeoutSec: 60 });
    await executed;
    await agent("ex-twice"); // same hostname: replaces the first session
    const { lines } = await running;
    expect(lines.find((l) => l.type === "result")).toMatchObject({ host: "ex-twice", status: "error", error: "host disconnected mid-request (it registered again on a new session)" });
    expect(performance.now() - t0).toBeLessThan(3000);
  }, 10_000);

  test("a host that never answers is `timeout` after the command's timeout plus the slack", async () => {
    const mute = await agent("ex-mute");
    const t0 = performance.now();
    const { lines } = await master.exec({ hosts: ["ex-mute"], argv: ["/bin/sleep", "100"], timeoutSec: 0.2 });
    const took = performance.now() - t0;
    expect(lines.find((l) => l.type === "result")).toMatchObject({ host: "ex-mute", status: "timeout" });
    expect(String(lines.find((l) => l.type === "result")!.error)).toContain("the command may still be running there");
    expect(took).toBeGreaterThan(5000);
    expect(took).toBeLessThan(8000);
    // The agent's late answer is dropped and counted, not delivered anywhere.
    const execute = await mute.next((m) => m.type === "execute");
    const before = (await master.json<string>("/metrics")).body;
    mute.send({ type: "command_result", requestId: execute.requestId, status: "timeout", exitCode: null });
    const unknown = (t: string) => Number(/lava_agent_requests_total\{outcome="unknown"\} (\d+)/.exec(t)![1]);
    await waitFor(async () => unknown((await master.json<string>("/metrics")).body) === unknown(before) + 1, 5000, "unknown answer counted");
  }, 15_000);

  test("lava ctl exec prefixes each line with its host, stderr to stderr, summary; exit 1 if a host exits non-zero", async () => {
    const [a, b] = [await agent("ctl-a"), await agent("ctl-b")];
    echoing(a);
    echoing(b, 3);
    const r = await ctl("exec", "--hosts", "ctl-a,ctl-b", "--timeout", "5", "--", "/bin/echo", "x", "y");
    expect(r.code).toBe(1);
    const out = r.stdout.trimEnd().split("\n").sort();
    expect(out).toEqual(["ctl-a: ctl-a says x y", "ctl-a: second line", "ctl-b: ctl-b says x y", "ctl-b: second line"]);
    expect(r.stderr).toContain("ctl-a: a warning\n");
    expect(r.stderr).toContain("ctl-b: exit 3\n");
    expect(r.stderr).toContain("lava: exec on 2 hosts: 1 ok, 1 failed");
    const j = await ctl("exec", "--hosts", "ctl-b,ctl-a", "--json", "--", "/bin/echo", "z");
    expect(j.code).toBe(1);
    const rows = JSON.parse(j.stdout) as Msg[];
    expect(rows.map((x) => x.host)).toEqual(["ctl-a", "ctl-b"]);
    expect(rows[0]).toEqual({ host: "ctl-a", status: "ok", exitCode: 0, signal: null, stdout: "ctl-a says z\nsecond line\n", stderr: "a warning\n", stdoutTruncated: false, stderrTruncated: false, durationMs: 12, error: null });
    expect(rows[1]).toMatchObject({ exitCode: 3 });
    echoing(b, 0);
    expect((await ctl("exec", "--hosts", "ctl-a,ctl-b", "--", "/bin/echo")).code).toBe(0);
    expect((await ctl("exec", "--all", "--hosts", "x", "--", "/bin/echo")).code).toBe(2);
    expect((await ctl("exec", "--all")).code).toBe(2);
    expect((await ctl("exec", "--all", "--", "rm", "x")).code).toBe(1);
  }, 20_000);
});

describe("health and alerts", () => {
  test("the latest health per host; status is the worst check; refresh asks the agent and waits", async () => {
    const a = await agent("hl-a");
    a.send({ type: "health", at: Date.now(), checks: { disk: { status: "ok", detail: "40%" }, mem: { status: "warning", detail: "91%" } } });
    const row = await waitFor(async () => (await master.json<Msg[]>("/api/v1/health")).body.find((h) => h.host === "hl-a" && h.at !== null), 5000, "hl-a health");
    expect(row).toMatchObject({ status: "warning", checks: { mem: { status: "warning", detail: "91%" } } });
    a.onMessage = (m) => {
      if (m.type === "health_check") a.send({ type: "health", requestId: m.requestId, at: Date.now(), checks: { disk: { status: "critical", detail: "99%" } } });
    };
    const fresh = await master.json<Msg>("/api/v1/health/hl-a?refresh=1");
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ host: "hl-a", status: "critical" });
    const r = await ctl("health", "hl-a");
    expect(r.stdout).toContain("hl-a: critical");
    expect(r.stdout).toMatch(/disk\s+critical\s+99%/);
    const table = await ctl("health");
    expect(table.stdout).toMatch(/hl-a\s+critical\s+\S+\s+disk=critical/);
  }, 10_000);

  test("refresh: an agent that does not answer is 409 after the timeout; unknown host 404", async () => {
    await agent("hl-mute");
    const t0 = performance.now();
    const r = await master.json<Msg>("/api/v1/health/hl-mute?refresh=1&timeout=0.3");
    expect(r.status).toBe(409);
    expect(r.body.error).toBe("no_answer");
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await master.json("/api/v1/health/nosuch")).status).toBe(404);
    const viaCtl = await ctl("health", "hl-mute", "--refresh", "--timeout", "0.5");
    expect(viaCtl.code).toBe(1);
    // The master waits the --timeout for the agent; ctl waits for the master's answer beyond it, so this is exit 1 (the 409), never 3.
    expect(viaCtl.stderr).toContain("hl-mute: no answer from the agent within 0.5 s");
  }, 10_000);

  test("alerts: raised once (duplicates are not changes), listed, counted in /metrics, resolved into ?all=1, each change sent to the webhook", async () => {
    const a = await agent("al-a");
    const firing = { type: "alert", id: "disk-full:/", rule: "disk-full", severity: "critical", state: "firing", message: "disk / at 97%", value: 97, at: Date.now() };
    a.send(firing);
    a.send({ ...firing, value: 98 });
    const listed = await waitFor(async () => (await master.json<Msg[]>("/api/v1/alerts")).body.find((x) => x.host === "al-a"), 5000, "alert listed");
    expect(listed).toMatchObject({ id: "disk-full:/", severity: "critical", state: "firing", value: 98 });
    const metric = (t: string, sev: string) => Number(new RegExp(`lava_alerts_active\\{severity="${sev}"\\} (\\d+)`).exec(t)![1]);
    expect(metric((await master.json<string>("/metrics")).body, "critical")).toBe(1);
    const table = await ctl("alerts");
    expect(table.stdout).toMatch(/critical\s+al-a\s+disk-full:\/\s+firing\s+98/);
    a.send({ ...firing, state: "resolved", message: "disk / at 70%", value: 70 });
    await waitFor(async () => (await master.json<Msg[]>("/api/v1/alerts")).body.every((x) => x.host !== "al-a"), 5000, "alert resolved");
    expect(metric((await master.json<string>("/metrics")).body, "critical")).toBe(0);
    const all = (await master.json<Msg[]>("/api/v1/alerts?all=1")).body.find((x) => x.host === "al-a");
    expect(all).toMatchObject({ state: "resolved", message: "disk / at 70%" });
    await waitFor(() => hooked.filter((h) => h.host === "al-a").length === 2, 5000, "two webhook posts");
    expect(hooked.filter((h) => h.host === "al-a").map((h) => [h.state, h.value])).toEqual([["firing", 97], ["resolved", 70]]);
    expect(Object.keys(hooked[0]!).sort()).toEqual(["at", "host", "id", "message", "rule", "severity", "state", "value"]);
    // Alerts are not actions: nothing in the audit log.
    expect((await master.json<Msg[]>("/api/v1/audit")).body.some((r) => String(r.action).startsWith("alert"))).toBe(false);
  }, 10_000);
});

describe("logs", () => {
  test("lines stream as the agent sends them; the end ends the stream; text and NDJSON framing", async () => {
    const a = await agent("lg-a");
    a.onMessage = (m) => {
      if (m.type !== "stream_logs") return;
      for (const line of ["one", "two", "# three"]) a.send({ type: "log_line", requestId: m.requestId, line });
      a.send({ type: "logs_end", requestId: m.requestId });
    };
    const text = await master.fetch("/api/v1/hosts/lg-a/logs?path=/var/log/x.log&lines=3");
    expect(text.status).toBe(200);
    expect(text.headers.get("content-type")).toStartWith("text/plain");
    expect(await text.text()).toBe("one\ntwo\n# three\n");
    const req = await a.next((m) => m.type === "stream_logs");
    expect(req).toMatchObject({ path: "/var/log/x.log", follow: false, lines: 3 });
    const r = await ctl("logs", "lg-a", "/var/log/x.log", "-n", "3");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("one\ntwo\n# three\n");
    const row = await waitFor(async () => (await master.audit("logs.stream")).find((x) => x.target === "lg-a"), 5000, "logs.stream audit row");
    expect(JSON.parse(row.detail as string)).toEqual({ path: "/var/log/x.log", follow: false, lines: 3 });
  }, 10_000);

  test("an agent's refusal before any line is an HTTP error (audited as refused); a later error ends the stream with a trailer", async () => {
    const a = await agent("lg-b");
    a.onMessage = (m) => {
      if (m.type !== "stream_logs") return;
      if (m.path === "/etc/shadow") a.send({ type: "logs_end", requestId: m.requestId, error: "'/etc/shadow' is not on agent.logs.allow" });
      else {
        a.send({ type: "log_line", requestId: m.requestId, line: "first" });
        a.send({ type: "logs_end", requestId: m.requestId, error: "file rotated away" });
      }
    };
    const refused = await master.json<Msg>("/api/v1/hosts/lg-b/logs?path=/etc/shadow");
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: "logs_failed", detail: "lg-b: '/etc/shadow' is not on agent.logs.allow" });
    await waitFor(async () => (await master.audit("logs.stream")).find((x) => x.target === "lg-b" && String(x.result).startsWith("refused")), 5000, "refusal audited");
    const later = await master.fetch("/api/v1/hosts/lg-b/logs?path=/var/log/y");
    expect(await later.text()).toBe("first\n# lava: error: file rotated away\n");
    const r = await ctl("logs", "lg-b", "/var/log/y");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("first\n");
    expect(r.stderr).toContain("file rotated away");
    expect((await ctl("logs", "lg-b")).code).toBe(2);
    expect((await ctl("logs", "lg-b", "/x", "--unit", "u")).code).toBe(2);
  }, 10_000);

  test("following: closing the connection sends stop_logs to the agent", async () => {
    const a = await agent("lg-f");
    a.onMessage = (m) => {
      if (m.type === "stream_logs") a.send({ type: "log_line", requestId: m.requestId, line: "hello" });
    };
    const ac = new AbortController();
    const res = await master.fetch("/api/v1/hosts/lg-f/logs?path=/var/log/z&follow=1", { signal: ac.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("hello\n");
    const req = await a.next((m) => m.type === "stream_logs");
    expect(req.follow).toBe(true);
    ac.abort();
    const stop = await a.next((m) => m.type === "stop_logs", 5000);
    expect(stop.requestId).toBe(req.requestId);
  }, 10_000);
});

describe("start-up", () => {
  test("a webhook that is not an http(s) URL stops start-up with a usage error naming the key", async () => {
    const e = await LocalMaster.start({ alerts: { webhook: "alerts.example.com/x" } }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LavaError);
    expect(exitStatusOf(e)).toBe(EXIT.usage);
    expect((e as LavaError).message).toContain("master.alerts.webhook");
  });
});

describe("upgrade", () => {
  test("a master running from source refuses to hand out a binary, saying what to do", async () => {
    const bin = await master.json<Msg>("/api/v1/agent/binary");
    expect(bin.status).toBe(409);
    expect(bin.body).toMatchObject({ error: "from_source" });
    expect(String(bin.body.detail)).toContain("compiled binary");
    const up = await master.json<Msg>("/api/v1/upgrade", { method: "POST", body: JSON.stringify({ all: true }) });
    expect(up.status).toBe(409);
    expect((await master.json("/api/v1/agent/binary", { token: null })).status).toBe(401);
  });
});
