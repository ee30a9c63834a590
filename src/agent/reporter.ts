/**
 * The agent's report side: one UDP socket that sends SLAVE_REPORTs to the
 * master and receives MASTER_ANNs (design §2), and, where UDP does not get
 * through, a TCP connection to the master's TCP report port carrying the
 * same datagrams length-framed (agent.reportTransport; report-path.ts
 * decides, tcp-sender.ts connects). Reports go out while a session key
 * exists, also while the control channel is down, so that the master shows
 * the host as `unreach` (reports, no channel) rather than `unavail`.
 *
 * Timing comes from schedule.ts: the first report of the reporting loop
 * waits the host's phase offset, each later one interval ± 10 %. A new
 * session (re-registration) keeps the running loop and its phase; a new
 * interval re-arms the timer at the phase offset of the new interval, so a
 * fleet told a new interval by one announce does not fire in step.
 */
import { logger } from "../log/index.ts";
import { encodeReport, type LoadReport } from "../wire/index.ts";
import type { JobCounts, ProcResult } from "./procfs/index.ts";
import type { Rng } from "./backoff.ts";
import { errorText, guard } from "./control.ts";
import { nextReportDelayMs, phaseOffsetMs } from "./schedule.ts";
import { ReportPath, type MasterCounts, type PathChange, type ReportTransport, type ReportWay } from "./report-path.ts";
import { createTcpSender } from "./tcp-sender.ts";

const log = logger("agent");

const U32_MAX = 0xffff_ffff;

/** What reports need from a registration. */
export interface ReportSession {
  hostId: number;
  key: Uint8Array;
  /** Last seq sent in this session (0 before the first report). */
  seq: number;
  /** The master's report address: an IP literal (Bun's UDP send takes no names) and udpPort. */
  target: { ip: string; port: number };
  /** The registration's master and its TCP report port (null: it takes none). */
  tcp: { ip: string; port: number } | null;
  /** Highest MASTER_ANN seq accepted in this session, -1 before the first. */
  lastAnnounceSeq: number;
  /** Term of the latest MASTER_ANN accepted in this session (0 before the first). */
  lastAnnounceTerm: number;
}

export interface Sampler {
  sample(jobs: JobCounts, flags: number): ProcResult<LoadReport>;
}

export interface ReporterOptions {
  /** Local UDP port (config.reportPort; 0 = any). */
  port: number;
  /** Seeds the phase offset. */
  hostname: string;
  insecure: boolean;
  /** agent.reportTransport; an --insecure agent always uses UDP (its reports are known by their source address). */
  transport: ReportTransport;
  intervalMs: number;
  sampler: Sampler;
  jobs: () => JobCounts;
  rng: Rng;
  /** Every datagram received on the socket. */
  onDatagram: (buf: Uint8Array, from: { address: string; port: number }) => void;
}

export interface ReporterCounters {
  reportsSent: number;
  /** Of reportsSent, those that went over TCP. */
  reportsSentTcp: number;
  /** Reports skipped because /proc could not be read or the report not encoded. */
  reportsSkipped: number;
  /** Reports the socket refused. */
  sendErrors: number;
}

export interface Reporter {
  /** Local port of the socket (what `register` announces as reportPort). */
  readonly port: number;
  readonly session: ReportSession | null;
  readonly intervalMs: number;
  readonly counters: Readonly<ReporterCounters>;
  /** The way reports go now ("udp" or "tcp"). */
  readonly transport: ReportWay;
  /** A new registration: new key and host id, seq restarts at 1. Starts the loop if it is not running. */
  startSession(s: { hostId: number; key: Uint8Array; target: { ip: string; port: number }; tcpPort: number | null; seq?: number }): void;
  /** What the master's ping says it accepted in this session (auto mode moves between UDP and TCP on it). */
  masterCounts(c: MasterCounts): void;
  /** Why reports are not going out now ("sample": /proc cannot be read, …), or null. */
  readonly problem: string | null;
  /** Sends the session's reports elsewhere from now on (a new leader, found by its announce). */
  retarget(target: { ip: string; port: number }): void;
  /** Adopts a new interval (from `registered` or an announce); no-op if unchanged. */
  setIntervalMs(ms: number): void;
  close(): void;
}

/** Binds the socket: dual-stack "::" where the host has IPv6, else IPv4 only. Throws if the port cannot be bound. */
async function bind(port: number, onData: ReporterOptions["onDatagram"], onError: () => void) {
  const socket = {
    data: guard((_s: unknown, buf: Uint8Array, fromPort: number, address: string) => onData(buf, { address, port: fromPort })),
    // A report to a master whose UDP port is closed (restarting) comes back as
    // ICMP unreachable, raised on the socket; without a handler Bun ends the process.
    error: guard(onError),
  };
  const fail = (e: unknown) =>
    new Error(`cannot bind the UDP report port ${port}: ${errorText(e)} (choose another with --report-port, or 0 for any)`);
  try {
    return await Bun.udpSocket({ hostname: "::", port, socket });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw fail(e);
    // No IPv6 on this host: IPv4 only.
    try {
      return await Bun.udpSocket({ hostname: "0.0.0.0", port, socket });
    } catch (e2) {
      throw fail(e2);
    }
  }
}

export async function openReporter(opts: ReporterOptions): Promise<Reporter> {
  const path = new ReportPath(opts.insecure ? "udp" : opts.transport);
  const tcp = createTcpSender({
    rng: opts.rng,
    onState: (up, detail) => {
      path.tcpState(up);
      if (up) log.info(`reports: ${detail}`);
      else if (path.current === "tcp") log.warn(`reports: ${detail}; UDP until it is back`);
      else log.debug(`reports: ${detail}`);
    },
  });
  const udp = await bind(opts.port, opts.onDatagram, () => apply(path.udpError()));
  let session: ReportSession | null = null;
  let intervalMs = opts.intervalMs;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  /** The current reason reports are not going out, so each change is logged once. */
  let problem: string | null = null;
  const counters: ReporterCounters = { reportsSent: 0, reportsSentTcp: 0, reportsSkipped: 0, sendErrors: 0 };

  /** Keeps the TCP connection where the path wants it, and says why it moved. */
  function apply(change: PathChange): void {
    const t = session?.tcp ?? null;
    tcp.want(path.current === "tcp" && t && path.tcpTarget !== null ? t : null);
    if (change) log.info(change.to === "tcp" ? `reports go over TCP to ${t?.ip}:${t?.port} from now on: ${change.why}` : `reports go over UDP again: ${change.why}`);
  }

  function arm(delayMs: number): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, delayMs);
  }

  const tick = guard(() => {
    timer = null;
    if (closed) return;
    arm(nextReportDelayMs(intervalMs, opts.rng));
    sendOne();
  });

  function trouble(kind: string, detail: string): void {
    if (problem !== kind) log.warn(`${detail}; skipping reports until this clears`);
    else log.debug(detail);
    problem = kind;
  }

  function sendOne(): void {
    const s = session;
    if (!s) return;
    let sampled: ProcResult<LoadReport>;
    try {
      sampled = opts.sampler.sample(opts.jobs(), 0);
    } catch (e) {
      sampled = { ok: false, error: errorText(e) };
    }
    if (!sampled.ok) {
      counters.reportsSkipped++;
      trouble("sample", `cannot read the load: ${sampled.error}`);
      return;
    }
    const seq = s.seq + 1;
    if (!opts.insecure && seq > U32_MAX) {
      // 2^32 reports at 1/s is 136 years; a session cannot get here in practice.
      counters.reportsSkipped++;
      trouble("seq", "report seq exhausted for this session");
      return;
    }
    let datagram: Uint8Array;
    try {
      datagram = encodeReport(sampled.value, opts.insecure ? undefined : { hostId: s.hostId, seq, key: s.key });
    } catch (e) {
      counters.reportsSkipped++;
      trouble("encode", `cannot encode a report: ${errorText(e)}`);
      return;
    }
    let way = path.next();
    // TCP refuses only while its connection is down or its buffer full: UDP costs nothing to try.
    if (way === "tcp" && !tcp.send(datagram)) way = "udp";
    if (way === "udp") {
      try {
        udp.send(datagram, s.target.port, s.target.ip);
      } catch (e) {
        counters.sendErrors++;
        trouble("send", `cannot send a report to ${s.target.ip}:${s.target.port}: ${errorText(e)}`);
        return;
      }
    }
    path.sent(way);
    s.seq = seq;
    counters.reportsSent++;
    if (way === "tcp") counters.reportsSentTcp++;
    if (problem !== null) {
      log.info("reports are going out again");
      problem = null;
    }
  }

  return {
    port: udp.port,
    get session() {
      return session;
    },
    get intervalMs() {
      return intervalMs;
    },
    counters,
    get transport() {
      return path.current;
    },
    get problem() {
      return problem;
    },
    startSession(next) {
      const tcpTarget = next.tcpPort !== null ? { ip: next.target.ip, port: next.tcpPort } : null;
      session = { hostId: next.hostId, key: next.key, seq: next.seq ?? 0, target: next.target, tcp: tcpTarget, lastAnnounceSeq: -1, lastAnnounceTerm: 0 };
      apply(path.session(next.tcpPort));
      if (!timer && !closed) arm(phaseOffsetMs(opts.hostname, intervalMs));
    },
    masterCounts(c) {
      apply(path.masterCounts(c));
    },
    retarget(target) {
      if (session) session.target = { ...target };
    },
    setIntervalMs(ms) {
      if (ms === intervalMs) return;
      intervalMs = ms;
      if (timer && !closed) arm(phaseOffsetMs(opts.hostname, intervalMs));
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      tcp.close();
      try {
        udp.close();
      } catch {
        // already closed
      }
    },
  };
}
