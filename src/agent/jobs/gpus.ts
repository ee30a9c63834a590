/**
 * GPUs on this host, and which job holds which (design §11, docs/jobs.md).
 *
 * Detection reads what the drivers publish, under roots a test can point
 * at a fake tree:
 * - NVIDIA: one directory per GPU in /proc/driver/nvidia/gpus/ (the
 *   driver's own list); failing that, the /dev/nvidia0, /dev/nvidia1 …
 *   device nodes;
 * - AMD: the KFD topology (/sys/class/kfd/kfd/topology/nodes/N/properties,
 *   a node with `simd_count` above 0 is a GPU); failing that, the render
 *   nodes /dev/dri/renderDN whose /sys/class/drm/renderDN/device/driver is
 *   amdgpu.
 * `agent.gpus` overrides the count.
 *
 * A job asking for N GPUs gets N device indices nobody else holds, in
 * CUDA_VISIBLE_DEVICES (NVIDIA) or ROCR_VISIBLE_DEVICES (AMD); a job asking
 * for none on a GPU host gets them empty, so it does not use a GPU another
 * job holds. (The variables steer CUDA and ROCm; they are not a fence
 * against a job that opens /dev/nvidia* itself.)
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";

export type GpuVendor = "nvidia" | "amd";

export interface GpuRoots {
  proc: string;
  sys: string;
  dev: string;
}

export const REAL_ROOTS: GpuRoots = { proc: "/proc", sys: "/sys", dev: "/dev" };

export interface GpuInfo {
  vendor: GpuVendor | null;
  count: number;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function nvidiaCount(r: GpuRoots): number {
  const driver = list(join(r.proc, "driver", "nvidia", "gpus")).length;
  if (driver > 0) return driver;
  return list(r.dev).filter((n) => /^nvidia\d+$/.test(n)).length;
}

function amdCount(r: GpuRoots): number {
  let kfd = 0;
  const nodes = join(r.sys, "class", "kfd", "kfd", "topology", "nodes");
  for (const n of list(nodes)) {
    try {
      const props = readFileSync(join(nodes, n, "properties"), "utf8");
      const m = /^simd_count\s+(\d+)/m.exec(props);
      if (m && Number(m[1]) > 0) kfd++;
    } catch {
      // a node without properties is not a GPU we can use
    }
  }
  if (kfd > 0) return kfd;
  let render = 0;
  for (const n of list(join(r.dev, "dri"))) {
    if (!/^renderD\d+$/.test(n)) continue;
    try {
      if (basename(readlinkSync(join(r.sys, "class", "drm", n, "device", "driver"))) === "amdgpu") render++;
    } catch {
      // not a driver we know
    }
  }
  return render;
}

export function detectGpus(roots: GpuRoots = REAL_ROOTS): GpuInfo {
  const nvidia = nvidiaCount(roots);
  if (nvidia > 0) return { vendor: "nvidia", count: nvidia };
  const amd = amdCount(roots);
  if (amd > 0) return { vendor: "amd", count: amd };
  return { vendor: null, count: 0 };
}

/** Which GPU indices are free; pure. */
export class GpuPool {
  private readonly held: boolean[];

  constructor(
    readonly count: number,
    readonly vendor: GpuVendor | null,
  ) {
    this.held = new Array<boolean>(count).fill(false);
  }

  get free(): number {
    return this.held.filter((h) => !h).length;
  }

  /** The lowest `n` free indices, now held; null if fewer are free. */
  take(n: number): number[] | null {
    if (n === 0) return [];
    const got: number[] = [];
    for (let i = 0; i < this.count && got.length < n; i++) if (!this.held[i]) got.push(i);
    if (got.length < n) return null;
    for (const i of got) this.held[i] = true;
    return got;
  }

  give(ids: readonly number[]): void {
    for (const i of ids) if (i >= 0 && i < this.count) this.held[i] = false;
  }

  /** The variables that steer a job to `ids` (none on a host without GPUs). */
  env(ids: readonly number[]): Record<string, string> {
    if (this.count === 0) return {};
    const list = ids.join(",");
    // CUDA_VISIBLE_DEVICES always (design §11); ROCm reads its own as well.
    return this.vendor === "amd" ? { CUDA_VISIBLE_DEVICES: list, ROCR_VISIBLE_DEVICES: list } : { CUDA_VISIBLE_DEVICES: list };
  }
}
