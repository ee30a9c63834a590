/**
 * Audit rows for refused requests (bad token, wrong role, bad body), which
 * anyone can cause: an unauthenticated flood must not become a flood of
 * durable writes, and one flooding source must not hide the refusals of
 * others. Pure: the caller passes the time and writes the rows it returns.
 *
 * - The first refusal of a (source, action, reason) in a window is a row at
 *   once; repeats in the window are counted, and become ONE row
 *   ("… ×N more") when the window is flushed.
 * - Each source may cause at most `rowsPerSourcePerWindow` rows a window
 *   (counted refusals beyond that are summed into its next allowed row),
 *   and all sources together at most `rowsPerWindow`: a flood from many
 *   addresses is bounded too, and the rows it is refused are counted in
 *   `suppressed` (exported as a metric) rather than lost silently.
 * - Text fields are cut (a 4,000-character path segment is a target of at
 *   most TARGET_CHARS_MAX).
 * - The table of keys is bounded; past it, new keys are only counted.
 */
import type { Role } from "../../control/roles.ts";

export const TARGET_CHARS_MAX = 200;
export const DETAIL_CHARS_MAX = 500;

export interface Refusal {
  /** Where the request came from (an IP address). */
  source: string;
  action: string;
  target: string | null;
  /** "401 bad_token", "403 forbidden", … */
  reason: string;
  /** The caller's subject and role when the token was valid; null when there was none or it was refused. */
  actor: { sub: string; role: Role } | null;
  /** Whether a token was presented at all (to tell "invalid-token" from "anonymous"). */
  tokenPresented: boolean;
  detail: string;
}

export interface RefusalRow {
  actor: string;
  actorRole: Role;
  action: string;
  target?: string;
  result: string;
  detail: string;
}

export interface RefusalAuditOptions {
  windowMs: number;
  rowsPerSourcePerWindow: number;
  rowsPerWindow: number;
  keysMax: number;
}

export const REFUSAL_AUDIT_DEFAULTS: RefusalAuditOptions = { windowMs: 10_000, rowsPerSourcePerWindow: 5, rowsPerWindow: 500, keysMax: 10_000 };

interface Pending {
  first: Refusal;
  /** Repeats not written yet. */
  more: number;
}

export class RefusalAudit {
  private readonly opts: RefusalAuditOptions;
  private windowStart = -Infinity;
  private rows = 0;
  private readonly perSource = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  /** Refusals that got no row of their own and could not be summed into one (budgets, key table full). */
  suppressed = 0;

  constructor(opts: Partial<RefusalAuditOptions> = {}) {
    this.opts = { ...REFUSAL_AUDIT_DEFAULTS, ...opts };
  }

  /** Records a refusal; returns the rows to write now (the refusal's own, and a window's repeats if it just ended). */
  note(r: Refusal, nowMs: number): RefusalRow[] {
    const out = this.flush(nowMs);
    const key = `${r.source}\0${r.action}\0${r.reason}`;
    const seen = this.pending.get(key);
    if (seen) {
      seen.more++;
      return out;
    }
    if (this.pending.size >= this.opts.keysMax) {
      this.suppressed++;
      return out;
    }
    const p: Pending = { first: r, more: 0 };
    this.pending.set(key, p);
    // Without budget the refusal is only counted: it goes out with the window's repeats.
    if (this.spend(r.source)) out.push(row(r, 0));
    else p.more++;
    return out;
  }

  /**
   * Ends the window if it is over: one row per key with repeats (within the
   * budgets of the new window), and a fresh window. Call it on a timer.
   */
  flush(nowMs: number): RefusalRow[] {
    if (nowMs - this.windowStart < this.opts.windowMs) return [];
    const carried = [...this.pending.values()].filter((p) => p.more > 0);
    this.pending.clear();
    this.startWindow(nowMs);
    const out: RefusalRow[] = [];
    for (const p of carried) {
      if (this.spend(p.first.source)) out.push(row(p.first, p.more));
      else this.suppressed += p.more;
    }
    return out;
  }

  private startWindow(nowMs: number): void {
    this.windowStart = nowMs;
    this.rows = 0;
    this.perSource.clear();
  }

  private spend(source: string): boolean {
    const used = this.perSource.get(source) ?? 0;
    if (used >= this.opts.rowsPerSourcePerWindow || this.rows >= this.opts.rowsPerWindow) return false;
    this.perSource.set(source, used + 1);
    this.rows++;
    return true;
  }
}

function row(r: Refusal, more: number): RefusalRow {
  return {
    actor: r.actor?.sub ?? (r.tokenPresented ? "invalid-token" : "anonymous"),
    actorRole: r.actor?.role ?? "read",
    action: r.action,
    ...(r.target !== null ? { target: cut(r.target, TARGET_CHARS_MAX) } : {}),
    result: more > 0 ? `refused: ${r.reason} (×${more} more from ${r.source})` : `refused: ${r.reason}`,
    detail: cut(`from ${r.source}: ${r.detail}`, DETAIL_CHARS_MAX),
  };
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 8)}… (cut)`;
}
