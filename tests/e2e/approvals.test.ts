/**
 * Command approval end to end (seed v0.2; docs/api.md "Approvals"): the
 * compiled master with master.exec.requireApproval and a queue that needs
 * approval, a compiled agent, and `lava ctl` run by two admins (tokens with
 * different subjects).
 *   - exec of a held command prints an approval id; nothing runs yet;
 *   - the requester cannot approve it (attack: same subject, and a second
 *     token minted for the same subject);
 *   - another admin approves: it runs and the output comes back;
 *   - a denied one and an expired one never run;
 *   - a job to a gated queue waits for approval, then runs;
 *   - every step is in the audit log.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const TTL_SEC = 4;
let master: TestMaster;
let agent: Proc;
const work = tempDir("lava-approve-");
let alice: string;
let bob: string;
let alice2: string;

const ctl = (token: string, args: string[]) => runLava(["ctl", ...args], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: token }, timeoutMs: 30_000 });
type Row = Record<string, unknown>;

beforeAll(async () => {
  master = await TestMaster.start({
    config: ["master:", "  reportInterval: 1", "  exec:", "    requireApproval: [/bin/touch, 'rm*']", `    approvalTtl: ${TTL_SEC}`, "  queues:", "    gated:", "      requireApproval: true", ""].join("\n"),
  });
  const mint = async (subject: string) => (await ctl(master.adminToken, ["token", "create", "--role", "admin", "--subject", subject])).stdout.trim();
  alice = await mint("alice");
  alice2 = await mint("alice");
  bob = await mint("bob");
  const cfg = join(work, "agent.yaml");
  writeFileSync(cfg, "agent:\n  exec:\n    allow: [/bin/touch, /bin/echo]\n");
  agent = startAgent(master, { hostname: "ap1", procRoot: writeProcFixture(join(work, "proc")), args: ["--config", cfg, "--state-dir", join(work, "state")] });
  await waitFor(async () => (await master.api<Row[]>("/api/v1/hosts")).body.some((h) => h.host === "ap1" && h.connected === true), 20_000, "agent connected");
}, 40_000);

afterAll(() => teardown({ clients: [agent], masters: [master], work }));

test("a command that needs approval: held; the requester cannot approve; another admin approves and it runs", async () => {
  const marker = join(work, "approved-marker");
  const held = await ctl(alice, ["exec", "--hosts", "ap1", "--", "/bin/touch", marker]);
  expect(held.code).toBe(0);
  const id = held.stdout.trim();
  expect(id).toMatch(/^\d+$/);
  expect(held.stderr).toContain(`lava ctl approve ${id}`);
  expect(existsSync(marker)).toBe(false);

  const pending = JSON.parse((await ctl(bob, ["approvals", "--json"])).stdout) as Row[];
  expect(pending.map((p) => p.id)).toContain(Number(id));
  expect(pending.find((p) => p.id === Number(id))).toMatchObject({ kind: "exec", state: "pending", requester: "alice" });

  // Attack: the requester approves their own request, with the same token and with another token of the same subject.
  for (const t of [alice, alice2]) {
    const self = await ctl(t, ["approve", id]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain("another admin");
  }
  expect(existsSync(marker)).toBe(false);

  const ok = await ctl(bob, ["approve", id, "--reason", "change 42"]);
  expect(ok.code).toBe(0);
  expect(ok.stderr).toContain("1 ok");
  expect(existsSync(marker)).toBe(true);

  // Decided once: neither admin can approve it again.
  const again = await ctl(bob, ["approve", id]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("already approved");

  const audit = JSON.parse((await ctl(master.adminToken, ["audit", "--json", "--limit", "1000"])).stdout) as Row[];
  const rows = audit.filter((r) => r.target === `approval ${id}` || (r.action === "exec.request" && String(r.detail).includes(`approval ${id}`)) || (r.action === "exec.result" && r.target === "ap1"));
  expect(rows.map((r) => `${r.action} ${r.actor} ${String(r.result).startsWith("refused") ? "refused" : r.result}`)).toEqual([
    "approval.request alice ok",
    "approval.decide alice refused",
    "approval.decide alice refused",
    "approval.decide bob ok",
    "exec.request alice started on 1 hosts",
    "exec.result alice ok exit 0",
    "approval.decide bob refused",
  ]);
}, 30_000);

test("a denied request never runs; the deny is audited with its reason", async () => {
  const marker = join(work, "denied-marker");
  const id = (await ctl(alice, ["exec", "--hosts", "ap1", "--", "/bin/touch", marker])).stdout.trim();
  expect((await ctl(bob, ["deny", id])).code).toBe(2); // --reason is required
  const d = await ctl(bob, ["deny", id, "--reason", "not during the freeze"]);
  expect(d.code).toBe(0);
  expect(d.stdout.trim()).toBe(`${id} denied`);
  expect((await ctl(bob, ["approve", id])).code).toBe(1);
  expect(existsSync(marker)).toBe(false);
  const all = JSON.parse((await ctl(bob, ["approvals", "--all", "--json"])).stdout) as Row[];
  expect(all.find((a) => a.id === Number(id))).toMatchObject({ state: "denied", decidedBy: "bob", reason: "not during the freeze" });
}, 30_000);

test("an undecided request expires: dropped, audited, and approving it later fails", async () => {
  const marker = join(work, "expired-marker");
  const id = (await ctl(alice, ["exec", "--hosts", "ap1", "--", "/bin/touch", marker])).stdout.trim();
  await waitFor(async () => {
    const all = JSON.parse((await ctl(bob, ["approvals", "--all", "--json"])).stdout) as Row[];
    return all.find((a) => a.id === Number(id))?.state === "expired";
  }, (TTL_SEC + 5) * 1000, "the request to expire");
  const late = await ctl(bob, ["approve", id]);
  expect(late.code).toBe(1);
  expect(existsSync(marker)).toBe(false);
  const audit = JSON.parse((await ctl(master.adminToken, ["audit", "--json", "--action", "approval.expire"])).stdout) as Row[];
  expect(audit.some((r) => r.target === `approval ${id}` && r.result === "ok" && r.actor === "master")).toBe(true);
  expect(JSON.parse((await ctl(bob, ["approvals", "--json"])).stdout).some((a: Row) => a.id === Number(id))).toBe(false);
}, 30_000);

test("a glob entry holds every spelling; commands not on the list run at once", async () => {
  const held = await ctl(alice, ["exec", "--hosts", "ap1", "--", "/usr/bin/rmdir", "/nonexistent"]);
  expect(held.stdout.trim()).toMatch(/^\d+$/);
  const free = await ctl(alice, ["exec", "--hosts", "ap1", "--", "/bin/echo", "hi"]);
  expect(free.code).toBe(0);
  expect(free.stdout).toContain("ap1: hi");
}, 30_000);

test("a job to a queue that needs approval waits for another admin, then runs", async () => {
  const held = await ctl(alice, ["submit", "--queue", "gated", "--", "/bin/echo", "gated job"]);
  expect(held.code).toBe(0);
  const id = held.stdout.trim();
  expect(held.stderr).toContain("requires approval");
  expect(JSON.parse((await ctl(alice, ["jobs", "--json"])).stdout)).toEqual([]);
  expect((await ctl(alice, ["approve", id])).code).toBe(1);
  const ok = await ctl(bob, ["approve", id]);
  expect(ok.code).toBe(0);
  const jobId = ok.stdout.trim();
  const wait = await ctl(bob, ["wait", jobId]);
  expect(wait.code).toBe(0);
  const job = JSON.parse((await ctl(bob, ["job", jobId, "--json"])).stdout) as Row;
  expect(job).toMatchObject({ state: "DONE", queue: "gated", submittedBy: "alice" });
}, 40_000);

test("a pending request survives a leader failover (it is in the Raft log), and is decided on the new leader", async () => {
  const { TestCluster } = await import("../helpers/masters.ts");
  const c = await TestCluster.start(3, { config: "master:\n  exec:\n    requireApproval: ['*']\n" });
  try {
    const leader = await c.leader(10_000);
    const onCluster = (token: string, args: string[]) => runLava(["ctl", ...args], { env: { LAVA_MASTER: c.addrs.join(","), LAVA_TOKEN: token }, timeoutMs: 30_000 });
    const mint = async (subject: string) => (await onCluster(leader.adminToken, ["token", "create", "--role", "admin", "--subject", subject])).stdout.trim();
    const carol = await mint("carol");
    const dave = await mint("dave");
    const held = await onCluster(carol, ["exec", "--all", "--", "/bin/true"]);
    expect(held.code).toBe(0);
    const id = held.stdout.trim();
    await leader.proc.kill9();
    await c.leader(5000, leader);
    const pending = JSON.parse((await onCluster(dave, ["approvals", "--json"])).stdout) as Row[];
    expect(pending.find((p) => p.id === Number(id))).toMatchObject({ state: "pending", requester: "carol" });
    expect((await onCluster(carol, ["approve", id])).code).toBe(1);
    expect((await onCluster(dave, ["deny", id, "--reason", "after failover"])).code).toBe(0);
  } finally {
    await c.stop();
    c.cleanup();
  }
}, 60_000);
