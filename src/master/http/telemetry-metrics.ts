/**
 * /metrics gauges from the hosts' telemetry (docs/api.md "Telemetry"):
 * filesystems, network interfaces, disks and GPUs, in base units (bytes,
 * bytes per second, ratios 0–1) with Prometheus names. Pure: what it prints
 * is passed in. Kept apart from metrics.ts so each can change alone.
 */
import type { HostEntry } from "../hosts/table.ts";
import type { TelemetryBook } from "../telemetry.ts";

/** A label value in the text format: backslash, quote and newline escaped. */
const labelValue = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

type Labels = Record<string, string>;
interface Family {
  help: string;
  samples: [Labels, number][];
}

export function renderTelemetryMetrics(hosts: Iterable<HostEntry>, book: TelemetryBook, nowMs: number): string {
  const fams = new Map<string, Family>();
  const add = (name: string, help: string, labels: Labels, value: number) => {
    let f = fams.get(name);
    if (!f) fams.set(name, (f = { help, samples: [] }));
    f.samples.push([labels, value]);
  };
  for (const h of hosts) {
    const t = book.get(h.hostId);
    if (!t) continue;
    const host = h.hostname;
    const m = t.msg;
    add("lava_host_telemetry_age_seconds", "seconds since the host's latest telemetry arrived", { host }, Math.max(0, nowMs - t.receivedMs) / 1000);
    for (const fs of m.filesystems ?? []) {
      const l = { host, mountpoint: fs.mount, fstype: fs.fstype };
      add("lava_host_filesystem_size_bytes", "filesystem size", l, fs.sizeBytes);
      add("lava_host_filesystem_used_bytes", "filesystem space in use", l, fs.usedBytes);
      if (fs.inodes !== undefined) add("lava_host_filesystem_files", "filesystem inodes", l, fs.inodes);
      if (fs.inodesUsed !== undefined) add("lava_host_filesystem_files_used", "filesystem inodes in use", l, fs.inodesUsed);
    }
    for (const n of m.network ?? []) {
      const l = { host, device: n.name };
      add("lava_host_network_receive_bytes_per_second", "bytes received per second over the agent's telemetry interval", l, n.rxBytesPerSec);
      add("lava_host_network_transmit_bytes_per_second", "bytes sent per second over the agent's telemetry interval", l, n.txBytesPerSec);
      add("lava_host_network_receive_errors_per_second", "receive errors per second over the agent's telemetry interval", l, n.rxErrorsPerSec);
      add("lava_host_network_transmit_errors_per_second", "transmit errors per second over the agent's telemetry interval", l, n.txErrorsPerSec);
    }
    for (const d of m.disks ?? []) {
      const l = { host, device: d.name };
      add("lava_host_disk_read_bytes_per_second", "bytes read per second over the agent's telemetry interval", l, d.readBytesPerSec);
      add("lava_host_disk_written_bytes_per_second", "bytes written per second over the agent's telemetry interval", l, d.writeBytesPerSec);
    }
    for (const g of m.gpus ?? []) {
      const l = { host, gpu: String(g.index), name: g.name };
      add("lava_host_gpu_utilization_ratio", "GPU utilisation, 0-1", l, g.utilPercent / 100);
      add("lava_host_gpu_memory_used_bytes", "GPU memory in use", l, g.memUsedBytes);
      add("lava_host_gpu_memory_total_bytes", "GPU memory", l, g.memTotalBytes);
    }
  }
  const out: string[] = [];
  for (const [name, f] of fams) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of f.samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(",");
      out.push(`${name}{${l}} ${Number.isFinite(value) ? value : "NaN"}`);
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}
