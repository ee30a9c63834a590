/**
 * Routes between masters and for watching them (design §6; paths and
 * response fields as in seeds/004):
 *   POST /_raft/append, /_raft/vote      peer messages (peer-authenticated)
 *   POST /_raft/snapshot                 a streamed database copy (peer-authenticated)
 *   POST /_raft/propose                  a follower's write, forwarded to the leader (peer-authenticated)
 *   GET  /_raft/health, /_raft/sync-status, /_raft/resync_stats   no token (monitoring, like etcd's /health)
 *   POST /_raft/force-resync?target=     admin token, audited
 * and the membership API under /api/v1/cluster (admin, audited).
 */
import { rmSync } from "node:fs";
import * as v from "valibot";
import { parseRaftMessage } from "../../raft/index.ts";
import type { Message } from "../../raft/types.ts";
import { CommandSchema, StoreError } from "../../store/index.ts";
import type { MasterConfig } from "../../config/index.ts";
import type { MasterState } from "../state.ts";
import { parsePeer } from "../raft/members.ts";
import { healthPolicy, healthView, resyncStatsView, syncStatusView, type HealthPolicy } from "../raft/status.ts";
import { bodyHash } from "../raft/peer-auth.ts";
import { SNAPSHOT_HEADER } from "../raft/transport.ts";
import type { ChangeRoute } from "./change.ts";
import { HttpError, json, storeHttpError } from "./errors.ts";
import { parseBody, readJson, readText, type Router } from "./router.ts";

/** Largest batch of peer messages one request may carry (entries are bounded per message by the core). */
const PEER_BODY_BYTES_MAX = 256 << 20;
/** Largest snapshot accepted. */
const SNAPSHOT_BYTES_MAX = 64 * 2 ** 30;

const SnapshotHeaderSchema = v.object({
  from: v.pipe(v.number(), v.integer(), v.minValue(1)),
  to: v.pipe(v.number(), v.integer(), v.minValue(1)),
  term: v.pipe(v.number(), v.integer(), v.minValue(0)),
  bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** SHA-256 of the body (hex): the signature covers this header, the receiver checks the body against it. */
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  meta: v.object({
    index: v.pipe(v.number(), v.integer(), v.minValue(0)),
    term: v.pipe(v.number(), v.integer(), v.minValue(0)),
    confState: v.object({ voters: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1))), v.maxLength(100)) }),
  }),
});

const MemberSchema = v.strictObject({ id: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffff_ffff)), address: v.pipe(v.string(), v.regex(/^[^\s=]+:\d{1,5}$/, "address is HOST:PORT of the new master's HTTP port")) });
const TransferSchema = v.strictObject({ to: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffff_ffff)) });

export interface RaftRouteDeps {
  /** The replication (started once the HTTP port is bound), leadership, and proposals a follower forwards. */
  state: Pick<MasterState, "replication" | "isLeader" | "propose">;
  nodeId: number;
  raft: MasterConfig["raft"];
}

export function raftRoutes(r: Router, deps: RaftRouteDeps, change: ChangeRoute): void {
  const repl = () => deps.state.replication;
  const policy = (): HealthPolicy => healthPolicy(deps.raft);

  /** Refuses at once a request whose peer header is missing, malformed or out of the time window, before reading its body. */
  function precheck(req: Request): void {
    const why = repl().auth.precheck(req.headers);
    if (why) throw new HttpError(401, "peer_auth", why);
  }

  /** The calling master, once its signature over the whole request (`hash`: its body's, or the snapshot header's) checks and its nonce is new. */
  function peer(req: Request, path: string, hash: string): { from: number; nonce: string } {
    const r = repl().auth.verify(req.headers, req.method, path, hash);
    if (!r.ok) throw new HttpError(401, "peer_auth", r.reason);
    repl().learn(r.from, r.addr);
    return r;
  }

  /** A peer request's JSON body, signature checked. */
  async function signedJson(req: Request, path: string): Promise<{ from: number; nonce: string; body: unknown }> {
    precheck(req);
    const text = await readText(req, PEER_BODY_BYTES_MAX);
    const who = peer(req, path, bodyHash(text));
    try {
      return { ...who, body: JSON.parse(text) };
    } catch {
      throw new HttpError(400, "bad_json", "request body is not valid JSON");
    }
  }

  async function messages(req: Request, path: string): Promise<Response> {
    const { from, nonce, body } = await signedJson(req, path);
    if (!Array.isArray(body)) throw new HttpError(400, "bad_request", "expected a JSON array of Raft messages");
    const msgs: Message[] = [];
    for (const raw of body) {
      const m = parseRaftMessage(raw);
      if (!m.ok) throw new HttpError(400, "bad_message", m.detail);
      msgs.push(m.message);
    }
    const answers = repl().stepAndAnswer(from, msgs);
    if (answers.length === 0) return new Response(null, { status: 204 });
    const out = JSON.stringify(answers);
    return new Response(out, { status: 200, headers: { "content-type": "application/json", ...repl().answerHeaders(path, nonce, out) } });
  }
  r.on("POST", "/_raft/append", (req) => messages(req, "/_raft/append"));
  r.on("POST", "/_raft/vote", (req) => messages(req, "/_raft/vote"));

  r.on("POST", "/_raft/snapshot", async (req) => {
    precheck(req);
    const raw = req.headers.get(SNAPSHOT_HEADER) ?? "";
    const { from } = peer(req, "/_raft/snapshot", bodyHash(raw));
    let head: v.InferOutput<typeof SnapshotHeaderSchema>;
    try {
      head = v.parse(SnapshotHeaderSchema, JSON.parse(raw || "null"));
    } catch {
      throw new HttpError(400, "bad_request", `missing or malformed ${SNAPSHOT_HEADER} header`);
    }
    if (head.from !== from || head.to !== deps.nodeId) throw new HttpError(400, "bad_request", `snapshot from ${head.from} to ${head.to} sent by ${from} to node ${deps.nodeId}`);
    if (head.bytes > SNAPSHOT_BYTES_MAX) throw new HttpError(413, "too_large", `snapshot of ${head.bytes} bytes is over the ${SNAPSHOT_BYTES_MAX}-byte limit`);
    const path = repl().incomingPath(from);
    const file = Bun.file(path).writer();
    const hash = new Bun.CryptoHasher("sha256");
    let got = 0;
    try {
      try {
        if (req.body) {
          for await (const chunk of req.body) {
            got += chunk.byteLength;
            if (got > head.bytes) throw new HttpError(400, "bad_request", `snapshot body is longer than the announced ${head.bytes} bytes`);
            hash.update(chunk);
            file.write(chunk);
          }
        }
      } finally {
        await file.end();
      }
      if (got !== head.bytes) throw new HttpError(400, "bad_request", `snapshot body has ${got} bytes, ${head.bytes} announced`);
      if (hash.digest("hex") !== head.sha256) throw new HttpError(400, "bad_request", "snapshot body does not match the SHA-256 its signed header announced");
    } catch (e) {
      rmSync(path, { force: true });
      throw e;
    }
    const msg: Message = { type: "snapshot", from, to: head.to, term: head.term, snapshot: { meta: head.meta } };
    const out = repl().installReceived(msg, path);
    return json({ installed: out.installed, detail: out.detail });
  });

  r.on("POST", "/_raft/propose", async (req) => {
    const body = (await signedJson(req, "/_raft/propose")).body as { command?: unknown } | null;
    const cmd = v.safeParse(CommandSchema, body?.command);
    if (!cmd.success) throw new HttpError(400, "bad_request", v.summarize(cmd.issues));
    if (!deps.state.isLeader) throw new HttpError(503, "not_leader", "this master is not the leader", { leader: repl().leaderAddr });
    // A StoreError becomes its 503 (with the leader's address) in the router.
    const a = await deps.state.propose(cmd.output);
    return json({ idx: a.idx, result: a.result });
  });

  r.on("GET", "/_raft/health", () => json(healthView(repl().driver.status(), repl().members, policy())));

  r.on("GET", "/_raft/sync-status", () => {
    const t = repl().transport;
    return json(
      syncStatusView(
        repl().driver.status(),
        repl().members,
        policy(),
        (id) => t.stats(id),
        (id) => t.snapshotProgress(id),
      ),
    );
  });

  r.on("GET", "/_raft/resync_stats", () => json(resyncStatsView(repl().driver.status(), repl().transport.resync)));

  /** A member by "host:port" (as in the seed) or by node id. */
  function memberOf(target: string): number {
    const m = repl().members;
    if (/^\d+$/.test(target) && m.voters.includes(Number(target))) return Number(target);
    for (const [id, addr] of Object.entries(m.addrs)) if (addr === target) return Number(id);
    throw new HttpError(404, "unknown_member", `no master at '${target}'; members: ${Object.entries(m.addrs).map(([id, a]) => `${id}=${a}`).join(", ")}`);
  }

  function leaderOnly(): void {
    if (!deps.state.isLeader) throw new HttpError(503, "not_leader", repl().leaderAddr ? `ask the leader at ${repl().leaderAddr}` : "no leader is elected right now; retry shortly", { leader: repl().leaderAddr });
  }

  change("POST", "/_raft/force-resync", "raft.force-resync", () => null, async (_req, _p, url, c) => {
    const target = url.searchParams.get("target");
    if (!target) throw new HttpError(400, "bad_request", "target: the follower's HOST:PORT (or node id), e.g. ?target=127.0.0.1:6881");
    leaderOnly();
    const id = memberOf(target);
    if (id === deps.nodeId) throw new HttpError(400, "bad_request", "the target is the leader itself; name a follower");
    const timeoutMs = deps.raft.snapshotTimeout * 1000 + 5000;
    let out: { ok: boolean; detail: string };
    try {
      out = await Promise.race([
        repl().forceResync(id),
        new Promise<{ ok: boolean; detail: string }>((res) => setTimeout(() => res({ ok: false, detail: `no answer within ${timeoutMs / 1000} s` }), timeoutMs)),
      ]);
    } catch (e) {
      if (e instanceof StoreError) throw storeHttpError(e);
      throw e;
    }
    const message = out.ok ? `Snapshot resync to ${target} completed successfully` : `Snapshot resync to ${target} failed: ${out.detail}`;
    await c.commit({ type: "audit.record", action: "raft.force-resync", target, result: out.ok ? "ok" : "failed", detail: out.detail.slice(0, 1000) });
    return json({ target, success: out.ok, message });
  });

  change("POST", "/api/v1/cluster/members", "cluster.add", () => null, async (req, _p, _url, c) => {
    const body = parseBody(MemberSchema, await readJson(req));
    if (!parsePeer(`${body.id}=${body.address}`)) throw new HttpError(400, "bad_request", "id and address do not make a valid member");
    leaderOnly();
    if (repl().members.voters.includes(body.id)) throw new HttpError(409, "conflict", `node ${body.id} is a member already`);
    try {
      const m = await repl().driver.proposeConfChange({ type: "add", node: body.id, context: body.address });
      await c.commit({ type: "audit.record", action: "cluster.add", target: String(body.id), result: "ok", detail: body.address });
      return json({ members: m.voters.map((id) => ({ id, address: m.addrs[id] ?? null })) }, 201);
    } catch (e) {
      if (e instanceof StoreError) throw storeHttpError(e);
      throw e;
    }
  });

  change("DELETE", "/api/v1/cluster/members/:id", "cluster.remove", (p) => p.id ?? null, async (_req, p, _url, c) => {
    leaderOnly();
    const id = memberOf(p.id!);
    try {
      // Audited first: once the leader has removed itself it can no longer write.
      await c.commit({ type: "audit.record", action: "cluster.remove", target: String(id), result: "ok", detail: repl().members.addrs[id] ?? "" });
      const m = await repl().driver.proposeConfChange({ type: "remove", node: id });
      return json({ members: m.voters.map((v) => ({ id: v, address: m.addrs[v] ?? null })) });
    } catch (e) {
      if (e instanceof StoreError) throw storeHttpError(e);
      throw e;
    }
  });

  change("POST", "/api/v1/cluster/transfer", "cluster.transfer", () => null, async (req, _p, _url, c) => {
    const body = parseBody(TransferSchema, await readJson(req));
    leaderOnly();
    const id = memberOf(String(body.to));
    await c.commit({ type: "audit.record", action: "cluster.transfer", target: String(id), result: "requested" });
    try {
      repl().driver.transferLeader(id);
    } catch (e) {
      if (e instanceof StoreError) throw storeHttpError(e);
      throw e;
    }
    return json({ to: id, requested: true }, 202);
  });
}

