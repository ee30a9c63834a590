/** `lava ctl telemetry HOST` for people: one table per part, the parts the agent could not read named. Pure. */
import { formatBytes, formatTable } from "./table.ts";

type Row = Record<string, unknown>;
const list = (x: unknown): Row[] => (Array.isArray(x) ? x.filter((r): r is Row => typeof r === "object" && r !== null) : []);
const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : null);
const rateText = (x: unknown) => (n(x) === null ? "-" : `${formatBytes(n(x))}/s`);
const pct = (x: number | null) => (x === null ? "-" : `${x < 10 ? x.toFixed(1) : Math.round(x)}%`);
const fixed = (x: unknown, d = 1) => (n(x) === null ? "-" : n(x)!.toFixed(d));

export function telemetryText(t: Row): string {
  const out: string[] = [];
  const age = n(t.ageMs);
  out.push(`${t.host}: telemetry of ${t.receivedAt}${age !== null ? ` (${Math.round(age / 1000)} s ago)` : ""}, sent every ${Math.round((n(t.intervalMs) ?? 0) / 1000)} s`);
  const section = (title: string, cols: { title: string; align?: "left" | "right" }[], rows: string[][]) => {
    if (rows.length === 0) return;
    out.push("", title, formatTable(cols, rows));
  };
  const R = "right" as const;
  section("FILESYSTEMS", [{ title: "MOUNT" }, { title: "TYPE" }, { title: "SIZE", align: R }, { title: "USED", align: R }, { title: "USE%", align: R }, { title: "INODE%", align: R }], list(t.filesystems).map((f) => {
    const size = n(f.sizeBytes) ?? 0;
    const used = n(f.usedBytes) ?? 0;
    const inodes = n(f.inodes);
    return [String(f.mount), String(f.fstype), formatBytes(size), formatBytes(used), pct(size > 0 ? (100 * used) / size : null), pct(inodes ? (100 * (n(f.inodesUsed) ?? 0)) / inodes : null)];
  }));
  section("NETWORK", [{ title: "INTERFACE" }, { title: "RX", align: R }, { title: "TX", align: R }, { title: "RX ERR/s", align: R }, { title: "TX ERR/s", align: R }], list(t.network).map((x) => [String(x.name), rateText(x.rxBytesPerSec), rateText(x.txBytesPerSec), fixed(x.rxErrorsPerSec), fixed(x.txErrorsPerSec)]));
  section("DISKS", [{ title: "DISK" }, { title: "READ", align: R }, { title: "WRITE", align: R }, { title: "READS/s", align: R }, { title: "WRITES/s", align: R }], list(t.disks).map((x) => [String(x.name), rateText(x.readBytesPerSec), rateText(x.writeBytesPerSec), fixed(x.readsPerSec), fixed(x.writesPerSec)]));
  const procs = (t.processes ?? {}) as Row;
  const procCols = [{ title: "PID", align: R }, { title: "USER" }, { title: "CPU%", align: R }, { title: "RSS", align: R }, { title: "COMMAND" }];
  const procRows = (x: unknown) => list(x).map((p) => [String(p.pid), String(p.user ?? "-"), fixed(p.cpuPercent), formatBytes(n(p.rssBytes)), String(p.command).slice(0, 80)]);
  section("TOP PROCESSES BY CPU (% of one CPU)", procCols, procRows(procs.byCpu));
  section("TOP PROCESSES BY MEMORY", procCols, procRows(procs.byMemory));
  section("GPUS", [{ title: "GPU", align: R }, { title: "NAME" }, { title: "UTIL%", align: R }, { title: "MEM USED", align: R }, { title: "MEM", align: R }], list(t.gpus).map((g) => [String(g.index), String(g.name), pct(n(g.utilPercent)), formatBytes(n(g.memUsedBytes)), formatBytes(n(g.memTotalBytes))]));
  section("CONTAINERS", [{ title: "NAME" }, { title: "IMAGE" }, { title: "STATE" }, { title: "CPU%", align: R }, { title: "MEM", align: R }], list(t.containers).map((c) => [String(c.name), String(c.image).slice(0, 60), String(c.state), fixed(c.cpuPercent), formatBytes(n(c.memBytes))]));
  const skipped = t.skipped && typeof t.skipped === "object" ? Object.entries(t.skipped as Record<string, unknown>) : [];
  if (skipped.length) out.push("", `not sent: ${skipped.map(([k, v]) => `${k} (${String(v)})`).join("; ")}`);
  return out.join("\n");
}
