/**
 * Partitions between real masters (design §6), through TCP proxies the
 * test cuts (tests/helpers/proxy.ts): a leader cut off from the others —
 * both ways, and only one way — keeps believing it leads for a while, and
 * is the case the read barrier exists for. Clients reach every master
 * directly. Checked on the clients' history: a read that started after a
 * write was acknowledged sees it, through whichever master answered, and
 * no acknowledged write is lost; writes retried with their request id are
 * applied once. And `lava ctl` retries a write whose first attempt was
 * committed but whose answer was lost, and gets the first outcome.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { runLava } from "../helpers/binary.ts";
import type { TestMaster } from "../helpers/cluster.ts";
import { freePorts, TestCluster } from "../helpers/masters.ts";
import { MasterLinks, TcpProxy } from "../helpers/proxy.ts";
import { waitFor } from "../helpers/wait.ts";

const clusters: TestCluster[] = [];
const links: MasterLinks[] = [];
const proxies: TcpProxy[] = [];
afterAll(async () => {
  for (const p of proxies) p.stop();
  for (const l of links) l.stop();
  for (const c of clusters) {
    await c.stop();
    c.cleanup();
  }
});

/** Short timeouts so that a cut-off master answers (503) instead of hanging the clients. */
const CONFIG = "master:\n  raft:\n    proposalTimeout: 1.5\n";

async function partitionable(): Promise<{ c: TestCluster; net: MasterLinks }> {
  const ports = await freePorts(3);
  const { links: net, peersOf } = MasterLinks.create(ports);
  links.push(net);
  const c = await TestCluster.start(3, { ports, peersOf, config: CONFIG });
  clusters.push(c);
  return { c, net };
}

interface Read {
  via: number;
  startedAt: number;
  subjects: Set<string>;
}

/**
 * Writers and readers on every master, directly (not through the
 * proxies). A write is a token whose subject is unique; it is retried with
 * its request id on any master until acknowledged. A read lists the tokens.
 */
function workload(c: TestCluster, token: string) {
  const acked = new Map<string, number>();
  const reads: Read[] = [];
  const failedReads: number[] = [];
  let stop = false;
  let attempts = 0;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const subject = `w${w}-${i}`;
      const requestId = crypto.randomUUID();
      for (let k = 0; !stop; k++) {
        const m = c.masters[(w + i + k) % 3]!;
        attempts++;
        try {
          const res = await fetch(`http://${m.addr}/api/v1/tokens`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "x-lava-request-id": requestId },
            body: JSON.stringify({ role: "read", subject }),
            signal: AbortSignal.timeout(2500),
          });
          await res.arrayBuffer();
          if (res.status === 201) {
            acked.set(subject, performance.now());
            break;
          }
        } catch {
          /* no answer: the outcome is unknown, the retry carries the same id */
        }
        await Bun.sleep(20);
      }
    }
  };
  const reader = async (r: number) => {
    for (let i = 0; !stop; i++) {
      const via = (r + i) % 3;
      const startedAt = performance.now();
      try {
        const res = await fetch(`http://${c.masters[via]!.addr}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2500) });
        if (res.status === 200) reads.push({ via: via + 1, startedAt, subjects: new Set(((await res.json()) as { subject: string }[]).map((t) => t.subject)) });
        else {
          await res.arrayBuffer();
          failedReads.push(via + 1);
        }
      } catch {
        failedReads.push(via + 1);
      }
      await Bun.sleep(5);
    }
  };
  const running = [...[0, 1].map(writer), ...[0, 1, 2].map(reader)];
  return {
    acked,
    reads,
    failedReads,
    get attempts() {
      return attempts;
    },
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

/** Every read saw every write acknowledged before it started (linearizable reads of an add-only set). */
function staleReads(acked: Map<string, number>, reads: Read[]): string[] {
  const out: string[] = [];
  for (const r of reads) {
    for (const [subject, at] of acked) {
      if (at < r.startedAt && !r.subjects.has(subject)) out.push(`a read through master ${r.via} started ${(r.startedAt - at).toFixed(0)} ms after ${subject} was acknowledged and did not see it`);
    }
  }
  return out;
}

async function converged(c: TestCluster): Promise<void> {
  await waitFor(
    async () => {
      const hs = await Promise.all(c.masters.map((m) => c.health(m)));
      if (hs.some((h) => h === null)) return false;
      const commit = Math.max(...hs.map((h) => h!.commit_index));
      return hs.every((h) => h!.last_applied === commit && h!.leader_id === hs[0]!.leader_id && h!.leader_id !== 0);
    },
    15_000,
    "every master on one leader, applied up to the commit index",
  );
}

/** After healing: every acknowledged write on every master, each exactly once. */
function checkWrites(c: TestCluster, acked: Map<string, number>): void {
  for (const m of c.masters) {
    const rows = c.query<{ subject: string }>(m, "SELECT subject FROM tokens WHERE subject LIKE 'w%-%'");
    const have = new Set(rows.map((r) => r.subject));
    expect([...acked.keys()].filter((s) => !have.has(s))).toEqual([]);
    // Retried with their request id: applied once, whatever answered.
    expect(rows.length).toBe(have.size);
  }
}

/**
 * Three masters behind proxies under the clients' workload: `cut`
 * partitions the leader, the others elect a leader of their own and take
 * writes, `during` does what the test wants while the cut lasts; then the
 * links heal and the history and every master are checked.
 */
async function aroundAPartition(cut: (net: MasterLinks, old: TestMaster, oldId: number) => void, during: (x: { c: TestCluster; old: TestMaster; oldId: number; w: ReturnType<typeof workload> }) => Promise<unknown>) {
  const { c, net } = await partitionable();
  const old = await c.leader(8000);
  const oldId = c.masters.indexOf(old) + 1;
  const w = workload(c, old.adminToken);
  await waitFor(() => w.acked.size >= 10, 10_000, "writes before the partition");
  cut(net, old, oldId);
  const cutAt = performance.now();
  // The others elect a leader of their own; the old one may still believe it leads for an election timeout.
  const fresh = await c.leader(8000, old);
  const electedMs = performance.now() - cutAt;
  const ackedBefore = w.acked.size;
  await waitFor(() => w.acked.size >= ackedBefore + 10, 15_000, "writes acknowledged by the new leader");
  await during({ c, old, oldId, w });
  net.heal();
  await waitFor(() => w.acked.size >= ackedBefore + 20, 15_000, "writes after healing");
  await w.stop();
  await converged(c);
  expect(staleReads(w.acked, w.reads)).toEqual([]);
  checkWrites(c, w.acked);
  expect(c.masters.indexOf(fresh) + 1).not.toBe(oldId);
  return { w, oldId, freshId: c.masters.indexOf(fresh) + 1, electedMs };
}

describe("three masters behind proxies", () => {
  test("a leader cut off both ways: reads through it never return stale state, and no acknowledged write is lost", async () => {
    const r = await aroundAPartition(
      (net, _old, oldId) => net.isolate(oldId),
      async ({ oldId, w }) => {
        // Reads sent to the cut-off master while writes commit elsewhere.
        const at = () => w.reads.filter((x) => x.via === oldId).length + w.failedReads.filter((v) => v === oldId).length;
        const before = at();
        await waitFor(() => at() >= before + 3, 15_000, "reads through the cut-off master");
      },
    );
    const w = r.w;
    console.log(
      `isolated leader ${r.oldId}: new leader ${r.freshId} in ${r.electedMs.toFixed(0)} ms; ${w.acked.size} writes acknowledged (${w.attempts} attempts), ${w.reads.length} reads answered, ${w.failedReads.length} refused or timed out (${w.failedReads.filter((v) => v === r.oldId).length} at the cut-off master)`,
    );
  }, 90_000);

  test("a leader that can send but not hear (answers and requests to it cut): it steps down, and the history stays linearizable", async () => {
    await aroundAPartition(
      // Its appends still reach the followers, but nothing they say reaches it.
      (net, _old, oldId) => {
        for (let j = 1; j <= 3; j++) if (j !== oldId) net.cut(j, oldId);
      },
      // It notices it lost its quorum (check quorum) and no longer calls itself the leader.
      ({ c, old }) => waitFor(async () => (await c.health(old))?.state !== "Leader", 5000, "the cut-off leader to step down"),
    );
  }, 90_000);
});

describe("a deposed leader that cannot hear the new term", () => {
  test("paused (SIGSTOP) while cut off, it resumes still believing it leads: the reads that waited for it are never answered from its stale state", async () => {
    await aroundAPartition(
      (net, old, oldId) => {
        net.isolate(oldId);
        old.proc.proc.kill("SIGSTOP");
      },
      async ({ old, oldId, w }) => {
        // Reads sent now wait in its socket; when it resumes, its clock has not moved: it still leads, as far as it knows.
        const startedAt = performance.now();
        const pending = Array.from({ length: 8 }, async () => {
          try {
            const res = await fetch(`http://${old.addr}/api/v1/tokens`, { headers: { authorization: `Bearer ${old.adminToken}` }, signal: AbortSignal.timeout(5000) });
            if (res.status !== 200) return { status: res.status, subjects: null };
            return { status: 200, subjects: new Set(((await res.json()) as { subject: string }[]).map((t) => t.subject)) };
          } catch {
            return { status: 0, subjects: null };
          }
        });
        await Bun.sleep(100);
        old.proc.proc.kill("SIGCONT");
        const answers = await Promise.all(pending);
        for (const a of answers) if (a.subjects) w.reads.push({ via: oldId, startedAt, subjects: a.subjects });
        console.log(`reads held by the paused old leader: ${answers.map((a) => a.status).join(" ")}`);
      },
    );
  }, 90_000);
});

describe("lava ctl retries", () => {
  test("a write committed but not answered is retried with its request id and answered with the first outcome, applied once", async () => {
    const c = await TestCluster.start(3, { config: CONFIG });
    clusters.push(c);
    const leader = await c.leader(8000);
    // The first master ctl tries forwards the request to the leader but loses the answer.
    const lossy = TcpProxy.start(leader.run.httpPort);
    proxies.push(lossy);
    lossy.cut("back");
    const out = await runLava(["ctl", "token", "create", "--role", "read", "--subject", "retried-once", "--master", `127.0.0.1:${lossy.port},${leader.addr}`, "--timeout", "3"], { env: { LAVA_TOKEN: leader.adminToken } });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const printed = out.stdout.trim();
    // Applied once, on every master; the token printed is the one recorded by the first attempt.
    await converged(c);
    for (const m of c.masters) {
      const rows = c.query<{ jti: string }>(m, "SELECT jti FROM tokens WHERE subject = 'retried-once'");
      expect(rows).toHaveLength(1);
      const claims = JSON.parse(Buffer.from(printed.split(".")[1]!, "base64url").toString()) as { jti: string };
      expect(claims.jti).toBe(rows[0]!.jti);
    }
    const audit = c.query<{ n: number }>(leader, "SELECT count(*) AS n FROM audit WHERE action = 'token.create' AND detail LIKE '%retried-once%'");
    expect(audit[0]!.n).toBe(1);
    // And the master said so on the retry's answer.
    const replay = await fetch(`http://${leader.addr}/api/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${leader.adminToken}`, "x-lava-request-id": "same-id-twice-0001" },
      body: JSON.stringify({ role: "read", subject: "twice" }),
    });
    const again = await fetch(`http://${leader.addr}/api/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${leader.adminToken}`, "x-lava-request-id": "same-id-twice-0001" },
      body: JSON.stringify({ role: "read", subject: "twice" }),
    });
    expect(replay.status).toBe(201);
    expect(again.status).toBe(201);
    expect(replay.headers.get("x-lava-request-replayed")).toBeNull();
    expect(Number(again.headers.get("x-lava-request-replayed"))).toBeGreaterThan(0);
    expect(((await again.json()) as { token: string }).token).toBe(((await replay.json()) as { token: string }).token);
    // A malformed id is refused: it could not protect a retry.
    const bad = await fetch(`http://${leader.addr}/api/v1/tokens`, { method: "POST", headers: { authorization: `Bearer ${leader.adminToken}`, "x-lava-request-id": "x" }, body: JSON.stringify({ role: "read" }) });
    expect(bad.status).toBe(400);
  }, 60_000);
});
