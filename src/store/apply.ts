/**
 * The state machine: applies one committed command to the database inside
 * the caller's transaction. Deterministic: the same state and the same
 * command give the same effect and result on every replica and on every
 * replay (no clock, no randomness; times and ids come in the command).
 * Every entry writes exactly one audit row keyed by its log index (except
 * the scheduler's and agents' bookkeeping, and a repeated request id,
 * which is answered with its first outcome and changes nothing); a
 * request's row also keeps its request id and outcome (src/store/requests.ts).
 */
import { count, eq, inArray, sql } from "drizzle-orm";
import { hosts, tokens } from "./schema.ts";
import { statements, type Tx } from "./prepared.ts";
import type { ApplyResult, Command } from "./commands.ts";
import { applyJob } from "./apply-jobs.ts";
import { applyApproval, approvalAudit } from "./apply-approvals.ts";
import { firstOutcome, noteRequest } from "./requests.ts";
import { getMeta, META, setMeta } from "./meta.ts";


function refuse(error: string, detail: string): ApplyResult {
  return { ok: false, error, detail };
}

function effect(tx: Tx, idx: number, cmd: Command): ApplyResult {
  switch (cmd.type) {
    case "noop":
      return { ok: true };
    case "host.register": {
      const hw = cmd.hardware;
      const row = {
        ncpus: hw.ncpus,
        memBytes: hw.memBytes,
        gpus: hw.gpus ?? 0,
        os: hw.os ?? null,
        labels: hw.labels && hw.labels.length > 0 ? JSON.stringify(hw.labels) : null,
        version: cmd.version,
        updatedAt: cmd.at,
        ...(cmd.session ? { sessionNonce: cmd.session.nonce, reportIp: cmd.session.reportIp, reportPort: cmd.session.reportPort } : {}),
      };
      const existing = tx.select({ hostId: hosts.hostId, hostKey: hosts.hostKey }).from(hosts).where(eq(hosts.hostname, cmd.hostname)).get();
      if (existing) {
        // Trust on first use: a bound key is never replaced by a registration, only by host.reset-key.
        if (cmd.hostKey && existing.hostKey && existing.hostKey !== cmd.hostKey) {
          return refuse("host_key_mismatch", `host '${cmd.hostname}' is bound to host key ${existing.hostKey}, not ${cmd.hostKey}; if the host was reinstalled, run 'lava ctl host reset-key ${cmd.hostname}'`);
        }
        tx.update(hosts).set({ ...row, ...(cmd.hostKey ? { hostKey: cmd.hostKey } : {}) }).where(eq(hosts.hostId, existing.hostId)).run();
        return { ok: true, value: { hostId: existing.hostId, created: false } };
      }
      if (cmd.maxHosts !== undefined) {
        const n = tx.select({ n: count() }).from(hosts).get()?.n ?? 0;
        if (n >= cmd.maxHosts) return refuse("too_many_hosts", `the cluster has ${n} hosts, master.maxHosts is ${cmd.maxHosts}; remove hosts ('lava ctl host remove') or raise master.maxHosts`);
      }
      // Ids come from the state itself, so every replica assigns the same one.
      const hostId = Number(getMeta(tx, META.nextHostId) ?? 1);
      setMeta(tx, META.nextHostId, hostId + 1);
      tx.insert(hosts).values({ hostId, hostname: cmd.hostname, registeredAt: cmd.at, ...row, hostKey: cmd.hostKey ?? null }).run();
      return { ok: true, value: { hostId, created: true } };
    }
    case "host.drain":
    case "host.resume": {
      const drained = cmd.type === "host.drain";
      const r = tx
        .update(hosts)
        .set({ drained, drainReason: drained ? (cmd.reason ?? null) : null, updatedAt: cmd.at })
        .where(eq(hosts.hostname, cmd.hostname))
        .returning({ hostId: hosts.hostId })
        .all();
      if (r.length === 0) return refuse("unknown_host", `no host named '${cmd.hostname}' is registered`);
      return { ok: true, value: { hostname: cmd.hostname, drained } };
    }
    case "host.reset-key":
    case "host.revoke-sessions": {
      const r = tx
        .update(hosts)
        .set({ sessionGen: sql`${hosts.sessionGen} + 1`, updatedAt: cmd.at, ...(cmd.type === "host.reset-key" ? { hostKey: null } : {}) })
        .where(eq(hosts.hostname, cmd.hostname))
        .returning({ hostId: hosts.hostId, sessionGen: hosts.sessionGen })
        .all();
      if (r.length === 0) return refuse("unknown_host", `no host named '${cmd.hostname}' is registered`);
      return { ok: true, value: { hostname: cmd.hostname, hostId: r[0]!.hostId, sessionGen: r[0]!.sessionGen } };
    }
    case "host.remove-many": {
      const r = tx.delete(hosts).where(inArray(hosts.hostname, cmd.hostnames)).returning({ hostname: hosts.hostname }).all();
      return { ok: true, value: { removed: r.map((x) => x.hostname) } };
    }
    case "host.remove": {
      const r = tx.delete(hosts).where(eq(hosts.hostname, cmd.hostname)).returning({ hostId: hosts.hostId }).all();
      if (r.length === 0) return refuse("unknown_host", `no host named '${cmd.hostname}' is registered`);
      return { ok: true, value: { hostname: cmd.hostname } };
    }
    case "token.create": {
      const st = statements(tx);
      if (st.tokenExists.get({ jti: cmd.jti })) return refuse("conflict", `token id ${cmd.jti} exists`);
      st.tokenInsert.run({ jti: cmd.jti, role: cmd.role, subject: cmd.subject, host: cmd.host ?? null, createdBy: cmd.actor, issuedAt: cmd.issuedAt, expiresAt: cmd.expiresAt ?? null });
      // The claims, so that a retry of the request is answered with the same token (src/store/requests.ts).
      return { ok: true, value: { jti: cmd.jti, role: cmd.role, subject: cmd.subject, issuedAt: cmd.issuedAt, ...(cmd.expiresAt !== undefined ? { expiresAt: cmd.expiresAt } : {}), ...(cmd.host !== undefined ? { host: cmd.host } : {}) } };
    }
    case "token.revoke": {
      const r = tx
        .update(tokens)
        .set({ revokedAt: cmd.at, revokedBy: cmd.actor })
        .where(sql`${tokens.jti} = ${cmd.jti} AND ${tokens.revokedAt} IS NULL`)
        .returning({ jti: tokens.jti })
        .all();
      if (r.length === 0) {
        const known = tx.select({ jti: tokens.jti }).from(tokens).where(eq(tokens.jti, cmd.jti)).get();
        // Revoking an id we never saw still blocks it (a token minted elsewhere with our secret).
        if (!known) {
          tx.insert(tokens).values({ jti: cmd.jti, role: "unknown", subject: "unknown", createdBy: "unknown", issuedAt: 0, revokedAt: cmd.at, revokedBy: cmd.actor }).run();
          return { ok: true, value: { jti: cmd.jti, known: false } };
        }
        return { ok: true, value: { jti: cmd.jti, already: true } };
      }
      return { ok: true, value: { jti: cmd.jti } };
    }
    case "audit.record":
      return { ok: true };
    case "approval.request":
    case "approval.decide":
    case "approval.expire":
      return applyApproval(tx, cmd);
    default:
      return applyJob(tx, idx, cmd);
  }
}

/** Scheduler and agent bookkeeping is in job_history, not the audit log: only requests are audited. */
const UNAUDITED: ReadonlySet<Command["type"]> = new Set(["noop", "job.dispatch", "job.start", "job.finish", "job.requeue"]);

function auditRow(idx: number, cmd: Command, result: ApplyResult) {
  if (UNAUDITED.has(cmd.type) || cmd.type === "noop") return null;
  const target =
    cmd.type === "audit.record" ? (cmd.target ?? null) : cmd.type === "token.create" || cmd.type === "token.revoke" ? cmd.jti : cmd.type === "host.remove-many" ? cmd.selector : "hostname" in cmd ? cmd.hostname : null;
  const detail =
    cmd.type === "audit.record"
      ? (cmd.detail ?? null)
      : cmd.type === "token.create"
        ? JSON.stringify({ role: cmd.role, subject: cmd.subject })
        : cmd.type === "host.drain"
          ? (cmd.reason ?? null)
          : cmd.type === "host.remove-many"
            ? `${cmd.hostnames.length} host(s): ${cmd.hostnames.slice(0, 20).join(", ")}${cmd.hostnames.length > 20 ? ", …" : ""}`
            : cmd.type === "host.register" && cmd.hostKey
              ? `host key ${cmd.hostKey}`
          : cmd.type === "job.submit"
            ? JSON.stringify({ argv: cmd.argv.slice(0, 20), queue: cmd.queue, cpus: cmd.cpus, ...(cmd.array ? { array: cmd.array.spec } : {}), ...(cmd.name ? { name: cmd.name } : {}) })
            : cmd.type === "job.cancel"
              ? cmd.reason
              : null;
  const jobTarget =
    cmd.type === "job.cancel" || cmd.type === "job.hold" || cmd.type === "job.release" ? String(cmd.jobId) : cmd.type === "job.submit" && result.ok ? String(result.value?.jobId) : null;
  if (cmd.type === "approval.request" || cmd.type === "approval.decide" || cmd.type === "approval.expire") {
    const a = approvalAudit(cmd, result);
    return { logIdx: idx, at: cmd.at, actor: cmd.actor, role: cmd.actorRole, action: cmd.type, target: a.target, result: result.ok ? "ok" : `refused: ${result.detail}`, detail: a.detail };
  }
  return {
    logIdx: idx,
    at: cmd.at,
    actor: cmd.actor,
    role: cmd.actorRole,
    action: cmd.type === "audit.record" ? cmd.action : cmd.type,
    target: jobTarget ?? target,
    result: cmd.type === "audit.record" ? cmd.result : result.ok ? "ok" : `refused: ${result.detail}`,
    detail,
  };
}

/**
 * Applies entry `idx` inside the caller's transaction. The caller records
 * lastApplied in that same transaction (once per group: see CommandLog).
 */
export function applyEntry(tx: Tx, idx: number, cmd: Command): ApplyResult {
  const asked = cmd.type !== "noop" && cmd.requestId !== undefined ? { actor: cmd.actor, id: cmd.requestId } : null;
  if (asked) {
    const first = firstOutcome(tx, idx, cmd.at, asked.actor, asked.id);
    if (first) return { ...first.result, replayOf: first.idx };
  }
  const result = effect(tx, idx, cmd);
  // A command with a request id always gets its row: the row keeps its outcome for a retry.
  const row = auditRow(idx, cmd, result) ?? (asked && cmd.type !== "noop" ? { logIdx: idx, at: cmd.at, actor: cmd.actor, role: cmd.actorRole, action: cmd.type, target: null, result: result.ok ? "ok" : `refused: ${result.detail}`, detail: null } : null);
  if (row) statements(tx).audit.run({ ...row, requestId: asked?.id ?? null, outcome: asked ? JSON.stringify(result) : null });
  if (asked) noteRequest(tx, idx, asked.actor, asked.id);
  return result;
}

export function setLastApplied(tx: Tx, idx: number): void {
  setMeta(tx, META.lastApplied, idx);
}
