/**
 * What the security tests read from a compiled master to prove that an
 * attack was refused and left nothing behind: the Raft log's last index
 * (nothing proposed), refusal counters, audit rows, hosts and jobs.
 */
import { runLava } from "../helpers/binary.ts";
import type { TestMaster } from "../helpers/cluster.ts";

export type Row = Record<string, unknown>;

/** Index of the last entry in the master's log (`/_raft/health`, no token needed). */
export async function lastIndex(m: TestMaster): Promise<number> {
  return (await m.api<{ last_index: number }>("/_raft/health", { token: null })).body.last_index;
}

/** `lava_control_refused_total{reason}` from /metrics. */
export async function refused(m: TestMaster, reason: string): Promise<number> {
  const text = (await m.api<string>("/metrics")).body;
  const hit = new RegExp(`lava_control_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  if (!hit) throw new Error(`no lava_control_refused_total{reason="${reason}"} in /metrics`);
  return Number(hit[1]);
}

export async function audit(m: TestMaster, action: string): Promise<Row[]> {
  return (await m.api<Row[]>(`/api/v1/audit?action=${encodeURIComponent(action)}`)).body;
}

export async function host(m: TestMaster, name: string): Promise<Row | undefined> {
  return (await m.api<Row[]>("/api/v1/hosts")).body.find((h) => h.host === name);
}

export async function mint(m: TestMaster, body: Record<string, unknown>): Promise<{ token: string; jti: string }> {
  const r = await m.api<{ token: string; jti: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`token create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** `lava ctl ARGS` against `m` with its admin token. */
export function ctl(m: TestMaster, args: string[], env: Record<string, string> = {}) {
  return runLava(["ctl", ...args], { env: { LAVA_MASTER: m.addr, LAVA_TOKEN: m.adminToken, ...env } });
}
