/**
 * Active alerts per (host, id), and the recently resolved ones (design §5,
 * §10). Agents evaluate the rules (with hysteresis) and send `alert`
 * messages; the master only keeps them: soft state, rebuilt after a master
 * restart because agents re-send their firing alerts after each
 * registration.
 *
 * That re-send also cleans up: when a host registers again, its active
 * alerts become unconfirmed; those the agent sends again within
 * CONFIRM_GRACE_MS stay (without a new notification), the others resolve
 * then ("not re-sent by the agent"): they ended while the agent could not
 * tell the master.
 *
 * Pure: times come in as arguments; changes come back as values for the
 * caller to log and send to the webhook.
 */
import type { Alert } from "../../control/index.ts";

export type Severity = Alert["severity"];
export const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];

export interface AlertEntry {
  host: string;
  hostId: number;
  id: string;
  rule: string;
  severity: Severity;
  state: "firing" | "resolved";
  message: string;
  value: number | null;
  /** The agent's time of the latest message (ms since the epoch). */
  at: number;
  /** When the master first saw it firing. */
  sinceMs: number;
  /** When the master saw it resolve. */
  resolvedMs: number | null;
}

/** A change worth telling people about (log, webhook). A repeated firing message is not one. */
export interface AlertChange {
  kind: "raised" | "changed" | "resolved";
  alert: AlertEntry;
}

export interface AlertLimits {
  perHostMax: number;
  totalMax: number;
  /** Resolved alerts kept for `?all=1`. */
  resolvedKept: number;
}

export const ALERT_LIMITS_DEFAULT: AlertLimits = { perHostMax: 256, totalMax: 100_000, resolvedKept: 1000 };
/** How long a host that registered again has to re-send an active alert before it resolves. */
export const CONFIRM_GRACE_MS = 60_000;

const key = (host: string, id: string) => `${host}\u0000${id}`;

export class AlertBook {
  private readonly active = new Map<string, AlertEntry>();
  private readonly perHost = new Map<string, number>();
  /** key → deadline (ms) by which the agent must re-send it. */
  private readonly unconfirmed = new Map<string, number>();
  private resolvedRing: AlertEntry[] = [];
  /** Firing alerts refused because a bound was reached. */
  dropped = 0;

  constructor(private readonly limits: AlertLimits = ALERT_LIMITS_DEFAULT) {}

  /** Applies one `alert` message; returns the change, or null when nothing changed. */
  apply(hostId: number, host: string, msg: Alert, nowMs: number): AlertChange | null {
    const k = key(host, msg.id);
    const cur = this.active.get(k);
    if (msg.state === "resolved") {
      if (!cur) return null;
      return this.resolve(k, cur, nowMs, { message: msg.message, at: msg.at, value: msg.value ?? cur.value });
    }
    this.unconfirmed.delete(k);
    if (cur) {
      const changed = cur.severity !== msg.severity;
      cur.severity = msg.severity;
      cur.rule = msg.rule;
      cur.message = msg.message;
      cur.value = msg.value ?? null;
      cur.at = msg.at;
      return changed ? { kind: "changed", alert: { ...cur } } : null;
    }
    if ((this.perHost.get(host) ?? 0) >= this.limits.perHostMax || this.active.size >= this.limits.totalMax) {
      this.dropped++;
      return null;
    }
    const entry: AlertEntry = { host, hostId, id: msg.id, rule: msg.rule, severity: msg.severity, state: "firing", message: msg.message, value: msg.value ?? null, at: msg.at, sinceMs: nowMs, resolvedMs: null };
    this.active.set(k, entry);
    this.perHost.set(host, (this.perHost.get(host) ?? 0) + 1);
    return { kind: "raised", alert: { ...entry } };
  }

  /** The host registered (again): its active alerts must be re-sent within CONFIRM_GRACE_MS. */
  hostRegistered(host: string, nowMs: number): void {
    for (const [k, a] of this.active) if (a.host === host) this.unconfirmed.set(k, nowMs + CONFIRM_GRACE_MS);
  }

  /** Resolves the unconfirmed alerts whose grace has passed. */
  sweep(nowMs: number): AlertChange[] {
    const out: AlertChange[] = [];
    for (const [k, deadline] of this.unconfirmed) {
      if (nowMs < deadline) continue;
      this.unconfirmed.delete(k);
      const a = this.active.get(k);
      if (a) out.push(this.resolve(k, a, nowMs, { message: `${a.message} (resolved by the master: not re-sent by the agent after it registered again)` }));
    }
    return out;
  }

  /** The host was removed: its alerts end. */
  hostRemoved(hostId: number, nowMs: number): AlertChange[] {
    const out: AlertChange[] = [];
    for (const [k, a] of this.active) if (a.hostId === hostId) out.push(this.resolve(k, a, nowMs, { message: `${a.message} (resolved: host removed)` }));
    return out;
  }

  /** Active alerts, critical first, then by host and id. */
  list(): AlertEntry[] {
    return sortAlerts([...this.active.values()]);
  }

  /** Recently resolved alerts, newest first. */
  resolved(): AlertEntry[] {
    return [...this.resolvedRing].reverse();
  }

  counts(): Record<Severity, number> {
    const c: Record<Severity, number> = { info: 0, warning: 0, critical: 0 };
    for (const a of this.active.values()) c[a.severity]++;
    return c;
  }

  get size(): number {
    return this.active.size;
  }

  private resolve(k: string, a: AlertEntry, nowMs: number, update: { message: string; at?: number; value?: number | null }): AlertChange {
    this.active.delete(k);
    this.unconfirmed.delete(k);
    const n = (this.perHost.get(a.host) ?? 1) - 1;
    if (n <= 0) this.perHost.delete(a.host);
    else this.perHost.set(a.host, n);
    const done: AlertEntry = { ...a, state: "resolved", message: update.message, at: update.at ?? nowMs, value: update.value === undefined ? a.value : update.value, resolvedMs: nowMs };
    this.resolvedRing.push(done);
    if (this.resolvedRing.length > this.limits.resolvedKept) this.resolvedRing = this.resolvedRing.slice(-this.limits.resolvedKept);
    return { kind: "resolved", alert: { ...done } };
  }
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export function sortAlerts(list: AlertEntry[]): AlertEntry[] {
  return list.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const iso = (ms: number | null) => (ms !== null && Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : null);

/** GET /api/v1/alerts's row. */
export function alertView(a: AlertEntry) {
  return { host: a.host, id: a.id, rule: a.rule, severity: a.severity, state: a.state, message: a.message, value: a.value, at: iso(a.at), since: iso(a.sinceMs), resolvedAt: iso(a.resolvedMs) };
}

/** The webhook's body for one change. */
export function webhookPayload(a: AlertEntry) {
  return { host: a.host, id: a.id, rule: a.rule, severity: a.severity, state: a.state, message: a.message, value: a.value, at: iso(a.at) };
}
