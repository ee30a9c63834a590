/**
 * Which way the agent's load reports go (agent.reportTransport; docs/protocol.md
 * "TCP transport"). A state machine: events in (a registration, a report
 * sent, a UDP error, the master's counts in its ping, the TCP connection
 * going up or down), the path of the next report out. No clock, no socket.
 *
 * - `udp`: always UDP.
 * - `tcp`: always TCP to the master's TCP report port (from `registered`);
 *   UDP while the master has none (it cannot take TCP then).
 * - `auto`: UDP first. The master's pings say how many of this session's
 *   reports it accepted over each transport; when at least EVIDENCE_REPORTS
 *   went out over UDP while the count did not rise (a firewall that
 *   drops them), or the UDP socket reported the port unreachable
 *   EVIDENCE_ERRORS times since UDP reports last arrived, reports move to TCP. On TCP,
 *   every PROBE_EVERY-th report goes over UDP instead; once the master counts
 *   one of those, reports move back to UDP. While the TCP connection is down
 *   (reconnecting with backoff) reports go over UDP, which costs nothing.
 *
 * Why pings: the master is the only one who knows what arrived, and the
 * control channel (TCP) works when UDP does not. Old masters send no counts;
 * `auto` then stays on UDP.
 */

export type ReportTransport = "udp" | "tcp" | "auto";
export type ReportWay = "udp" | "tcp";

/** UDP reports sent while the master's UDP count did not rise: UDP does not reach the master. */
export const EVIDENCE_REPORTS = 3;
/** UDP "port unreachable" errors since UDP reports last arrived that count as UDP not working. */
export const EVIDENCE_ERRORS = 3;
/** On TCP in auto mode, one report in this many is a UDP probe. */
export const PROBE_EVERY = 5;

/** What the master's ping says it accepted in this session, by transport. */
export interface MasterCounts {
  udp: number;
  tcp: number;
}

export type PathChange = { to: ReportWay; why: string } | null;

export class ReportPath {
  private way: ReportWay = "udp";
  private tcpPort: number | null = null;
  private tcpUp = false;
  /** UDP reports sent since the master's UDP count last rose (or since the session began). */
  private unconfirmed = 0;
  private udpErrors = 0;
  private sinceProbe = 0;
  /** The master's UDP count at the previous ping (null before the first ping of the session). */
  private accUdp: number | null = null;

  constructor(readonly mode: ReportTransport) {}

  /** The current way (a probe aside). */
  get current(): ReportWay {
    return this.way;
  }

  /** The TCP port reports may use in this session, or null. */
  get tcpTarget(): number | null {
    return this.mode === "udp" ? null : this.tcpPort;
  }

  /**
   * A new registration: counts restart with the session. In auto mode a
   * host that had moved to TCP stays there while the master still offers
   * TCP (the firewall did not change because the channel reconnected).
   */
  session(tcpPort: number | null): PathChange {
    const was = this.way;
    this.tcpPort = tcpPort;
    this.unconfirmed = 0;
    this.udpErrors = 0;
    this.sinceProbe = 0;
    this.accUdp = null;
    if (tcpPort === null || this.mode === "udp") this.way = "udp";
    else if (this.mode === "tcp") this.way = "tcp";
    if (this.way === was) return null;
    return { to: this.way, why: tcpPort === null ? "the master takes no TCP reports" : "agent.reportTransport is tcp" };
  }

  /** The way for the next report. */
  next(): ReportWay {
    if (this.way === "udp" || this.tcpPort === null || !this.tcpUp) return "udp";
    if (this.mode === "auto" && ++this.sinceProbe >= PROBE_EVERY) {
      this.sinceProbe = 0;
      return "udp";
    }
    return "tcp";
  }

  /** A report went out (was handed to the socket) this way. */
  sent(way: ReportWay): void {
    if (way === "udp") this.unconfirmed++;
  }

  /** The UDP socket reported an error (ICMP port unreachable comes back this way). */
  udpError(): PathChange {
    this.udpErrors++;
    if (this.mode !== "auto" || this.way !== "udp" || this.tcpPort === null || this.udpErrors < EVIDENCE_ERRORS) return null;
    return this.move("tcp", `the master's UDP port answered ${this.udpErrors} reports with 'port unreachable'`);
  }

  tcpState(up: boolean): void {
    this.tcpUp = up;
  }

  /**
   * The master's counts from a ping. A report sent just before the ping may
   * not be counted yet, so only EVIDENCE_REPORTS sent without the count
   * rising in between mean UDP is lost, whatever the ping and report periods.
   */
  masterCounts(c: MasterCounts): PathChange {
    const prev = this.accUdp;
    this.accUdp = c.udp;
    const rose = prev !== null && c.udp > prev;
    if (rose) {
      this.unconfirmed = 0;
      this.udpErrors = 0;
    }
    if (this.mode !== "auto" || this.tcpPort === null || prev === null) return null;
    if (this.way === "udp" && !rose && this.unconfirmed >= EVIDENCE_REPORTS) {
      return this.move("tcp", `none of the last ${this.unconfirmed} UDP reports reached the master`);
    }
    if (this.way === "tcp" && rose) return this.move("udp", "UDP reports reach the master again (a probe arrived)");
    return null;
  }

  private move(to: ReportWay, why: string): PathChange {
    this.way = to;
    this.sinceProbe = 0;
    this.udpErrors = 0;
    this.unconfirmed = 0;
    return { to, why };
  }
}
