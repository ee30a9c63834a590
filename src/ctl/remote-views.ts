/**
 * Human renderings of health, alerts and upgrade progress (docs/api.md).
 * Pure: an answer in, text out; odd or missing values print as "-".
 */
import { formatAge, formatTable, formatTime, truncate, type Column } from "./table.ts";

type Row = Record<string, unknown>;

const str = (x: unknown): string => (typeof x === "string" ? x : x === null || x === undefined ? "-" : String(x));
const obj = (x: unknown): Row => (typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Row) : {});
const ageOf = (iso: unknown, nowMs: number): string => {
  const t = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? formatAge(nowMs - t) : "-";
};

/** Widest MESSAGE / DETAIL cell; --json has them whole. */
export const MESSAGE_WIDTH = 60;

/** `lava ctl health`: HOST STATUS AGE CHECKS, where CHECKS names the checks that are not ok (or "all N ok"). */
export function healthTable(rows: readonly Row[], nowMs: number): string {
  const columns: Column[] = [{ title: "HOST" }, { title: "STATUS" }, { title: "AGE", align: "right" }, { title: "CHECKS" }];
  const cells = rows.map((r) => {
    const checks = Object.entries(obj(r.checks)).map(([name, c]) => [name, str(obj(c).status)] as const);
    const bad = checks.filter(([, s]) => s !== "ok");
    const summary = checks.length === 0 ? "none reported" : bad.length === 0 ? `all ${checks.length} ok` : bad.map(([n, s]) => `${n}=${s}`).join(" ");
    return [str(r.host), str(r.status), ageOf(r.at, nowMs), summary];
  });
  return formatTable(columns, cells);
}

/** `lava ctl health HOST`: the host's status line, then CHECK STATUS DETAIL. */
export function healthDetail(r: Row, nowMs: number): string {
  const head = `${str(r.host)}: ${str(r.status)}${r.at ? ` (checked ${ageOf(r.at, nowMs)} ago, at ${formatTime(str(r.at), true)})` : " (no checks reported yet)"}`;
  const checks = Object.entries(obj(r.checks));
  if (checks.length === 0) return head;
  const cells = checks.map(([name, c]) => [name, str(obj(c).status), truncate(str(obj(c).detail).replace(/\s+/g, " "), MESSAGE_WIDTH)]);
  return `${head}\n${formatTable([{ title: "CHECK" }, { title: "STATUS" }, { title: "DETAIL" }], cells)}`;
}

/** `lava ctl alerts`: SEVERITY HOST ALERT STATE VALUE SINCE MESSAGE (critical first). */
export function alertsTable(rows: readonly Row[], nowMs: number): string {
  const columns: Column[] = [{ title: "SEVERITY" }, { title: "HOST" }, { title: "ALERT" }, { title: "STATE" }, { title: "VALUE", align: "right" }, { title: "SINCE", align: "right" }, { title: "MESSAGE" }];
  const cells = rows.map((r) => [
    str(r.severity),
    str(r.host),
    str(r.id),
    str(r.state),
    typeof r.value === "number" ? String(+r.value.toFixed(2)) : "-",
    ageOf(r.since, nowMs),
    truncate(str(r.message).replace(/\s+/g, " "), MESSAGE_WIDTH),
  ]);
  return formatTable(columns, cells);
}

/** One progress event of `lava ctl upgrade`, for people; null for events that print nothing. */
export function upgradeLine(e: Row): string | null {
  const list = (x: unknown) => (Array.isArray(x) ? x.map(str) : []);
  switch (e.type) {
    case "plan": {
      const waves = Array.isArray(e.waves) ? e.waves : [];
      const n = waves.reduce((k: number, w) => k + list(w).length, 0);
      const also = [list(e.current).length ? `${list(e.current).length} already on it` : "", list(e.unreachable).length ? `${list(e.unreachable).length} without a control channel` : "", list(e.unknown).length ? `${list(e.unknown).length} unknown` : ""].filter(Boolean);
      return `upgrading ${n} host${n === 1 ? "" : "s"} to ${str(e.target)} in ${waves.length} wave${waves.length === 1 ? "" : "s"}${also.length ? ` (${also.join(", ")})` : ""}`;
    }
    case "wave":
      return `wave ${str(e.wave)}: ${list(e.hosts).join(", ")}`;
    case "host": {
      const took = typeof e.durationMs === "number" && e.durationMs > 0 ? ` (${(e.durationMs / 1000).toFixed(1)} s)` : "";
      if (e.status === "ok") return `${str(e.host)}: ok, ${str(e.fromVersion)} → ${str(e.version)}${took}`;
      if (e.status === "current") return `${str(e.host)}: already on ${str(e.version)}`;
      return `${str(e.host)}: ${str(e.status)}${e.error ? `: ${str(e.error)}` : ""}${took}`;
    }
    case "done":
      return `done: ${str(e.ok)} upgraded, ${str(e.current)} already current, ${str(e.failed)} failed, ${str(e.skipped)} skipped${e.stopped === true ? " (stopped: more than half of a wave failed)" : ""}`;
    case "error":
      return `lava: the master: ${str(e.detail ?? e.error)}`;
    default:
      return null;
  }
}
