/** What the master's HTTP handlers, control channel and timers share. */
import type { MasterConfig } from "../config/index.ts";
import type { StatusPolicy } from "./hosts/status.ts";
import type { HostTable } from "./hosts/table.ts";
import type { Ingest } from "./ingest.ts";
import type { ControlSessions } from "./control/sessions.ts";
import type { TokenGate } from "./tokens.ts";
import type { UdpDrops } from "./kernel.ts";
import type { MasterState } from "./state.ts";
import type { AdmissionBucket } from "./admission.ts";
import type { JobManager } from "./jobs/manager.ts";
import type { Remote } from "./requests/remote.ts";
import type { TcpReportCounters } from "./tcp-reports.ts";
import type { LiveSync } from "./sync/index.ts";
import type { HistoryFile } from "./history/file.ts";
import type { TelemetryBook } from "./telemetry.ts";

export interface MasterContext {
  config: MasterConfig;
  dataDir: string;
  hosts: HostTable;
  state: MasterState;
  ingest: Ingest;
  sessions: ControlSessions;
  gate: TokenGate;
  jwtKey: Uint8Array;
  policy: StatusPolicy;
  nowMs: () => number;
  startedMs: number;
  nodeId: number;
  udpPort: number;
  httpPort: number;
  advertise: string;
  kernelDrops: () => UdpDrops | null;
  /** The kernel's counters when this master started (the machine-wide ones are shown as deltas from here). */
  kernelAtStart: UdpDrops | null;
  admission: AdmissionBucket;
  /** Admission of upgrades with a session token (resumes). */
  resumeAdmission: AdmissionBucket;
  jobs: JobManager;
  /** UDP socket errors (mostly ICMP unreachable for announces to agents that went away). */
  udpErrors: () => number;
  /** Announces whose send threw (counted per host too, HostEntry.announceErrors). */
  announceErrors: () => number;
  /** The TCP report listener's connection counters, or null when it is off. */
  tcpReports: Readonly<TcpReportCounters> | null;
  /** Live load between masters (MASTER_SYNC). */
  sync: LiveSync;
  /** Requests to agents (exec, health, logs, upgrade), health and alerts. */
  remote: Remote;
  /** Lifts the HTTP idle timeout for a long streamed answer (exec, logs -f, upgrade). */
  holdOpen: (req: Request) => void;
  /** Load history (docs/history.md); null when master.history.enabled is false or it could not be opened. */
  history: HistoryFile | null;
  /** The latest telemetry per host (memory only). */
  telemetry: TelemetryBook;
}
