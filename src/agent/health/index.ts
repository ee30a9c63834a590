/**
 * The agent's health report (design §4 `health`): mounts.ts (the mount
 * table and which filesystems count, pure), status.ts (readings → checks,
 * thresholds, Nagios exit codes, pure), disks.ts (mount table + statfs, the
 * edge; also the `disk` alert metric), collect.ts (all checks of one report,
 * check commands through exec/process.ts), monitor.ts (when reports go out).
 */
export { FILESYSTEMS_MAX, isLocalFilesystem, localFilesystems, parseMounts, SKIPPED_FSTYPES, type MountEntry } from "./mounts.ts";
export { diskCheck, diskUsage, firstLine, formatBytes, formatUptime, memoryCheck, nagiosStatus, thresholdStatus, type Check, type CheckStatus, type DiskUsage, type StatfsLike, type Thresholds } from "./status.ts";
export { fullestDiskPercent, readDisks, type DiskReading, type DiskSource, type Statfs } from "./disks.ts";
export { collectHealth, runCheckCommand, type HealthCheckCommand, type HealthSources } from "./collect.ts";
export { createHealthMonitor, type HealthMonitor, type HealthMonitorOptions } from "./monitor.ts";
