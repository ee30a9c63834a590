/**
 * The report path state machine (src/agent/report-path.ts), driven by
 * tables of events: which way the next reports go, and when it moves.
 */
import { describe, expect, test } from "bun:test";
import { EVIDENCE_ERRORS, EVIDENCE_REPORTS, PROBE_EVERY, ReportPath, type ReportTransport } from "../../src/agent/report-path.ts";

/** Sends n reports the way the path says; returns the ways. */
function send(p: ReportPath, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = p.next();
    p.sent(w);
    out.push(w);
  }
  return out;
}

function started(mode: ReportTransport, tcpPort: number | null = 6881, tcpUp = true): ReportPath {
  const p = new ReportPath(mode);
  p.session(tcpPort);
  p.tcpState(tcpUp);
  return p;
}

describe("udp mode", () => {
  test("always UDP, whatever the master says", () => {
    const p = started("udp");
    p.masterCounts({ udp: 0, tcp: 0 });
    send(p, 10);
    expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull();
    for (let i = 0; i < 5; i++) expect(p.udpError()).toBeNull();
    expect(send(p, 3)).toEqual(["udp", "udp", "udp"]);
    expect(p.tcpTarget).toBeNull();
  });
});

describe("tcp mode", () => {
  test("TCP from the registration when the master offers a TCP port", () => {
    const p = new ReportPath("tcp");
    expect(p.session(6881)).toEqual({ to: "tcp", why: "agent.reportTransport is tcp" });
    p.tcpState(true);
    expect(send(p, 2 * PROBE_EVERY).every((w) => w === "tcp")).toBe(true);
  });
  test("UDP while the TCP connection is down, TCP again once it is up", () => {
    const p = started("tcp", 6881, false);
    expect(send(p, 2)).toEqual(["udp", "udp"]);
    p.tcpState(true);
    expect(send(p, 2)).toEqual(["tcp", "tcp"]);
  });
  test("UDP when the master takes no TCP reports", () => {
    const p = started("tcp", null);
    expect(p.current).toBe("udp");
    expect(send(p, 2)).toEqual(["udp", "udp"]);
  });
});

describe("auto mode", () => {
  test("starts on UDP", () => {
    expect(started("auto").current).toBe("udp");
  });

  test("moves to TCP when EVIDENCE_REPORTS UDP reports went out and the master's count did not rise", () => {
    const p = started("auto");
    expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull(); // first ping: a baseline only
    send(p, EVIDENCE_REPORTS - 1);
    expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull(); // not enough evidence yet
    send(p, 1);
    expect(p.masterCounts({ udp: 0, tcp: 0 })?.to).toBe("tcp");
    expect(p.current).toBe("tcp");
    expect(p.next()).toBe("tcp");
  });

  test("pings more frequent than reports: evidence accumulates across pings", () => {
    const p = started("auto");
    p.masterCounts({ udp: 0, tcp: 0 });
    for (let i = 0; i < EVIDENCE_REPORTS - 1; i++) {
      send(p, 1);
      expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull();
      expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull();
    }
    send(p, 1);
    expect(p.masterCounts({ udp: 0, tcp: 0 })?.to).toBe("tcp");
  });

  test("stays on UDP while the master's count rises (a report in flight at a ping is not evidence)", () => {
    const p = started("auto");
    p.masterCounts({ udp: 0, tcp: 0 });
    let acc = 0;
    for (let i = 0; i < 20; i++) {
      send(p, 2);
      // The ping sees all but the last report sent.
      acc += 1;
      expect(p.masterCounts({ udp: acc, tcp: 0 })).toBeNull();
      acc += 1;
    }
    expect(p.current).toBe("udp");
  });

  test("EVIDENCE_ERRORS 'port unreachable' errors move it to TCP at once", () => {
    const p = started("auto");
    for (let i = 1; i < EVIDENCE_ERRORS; i++) expect(p.udpError()).toBeNull();
    expect(p.udpError()?.to).toBe("tcp");
  });

  test("errors are forgotten once UDP reports arrive again", () => {
    const p = started("auto");
    p.masterCounts({ udp: 0, tcp: 0 });
    for (let i = 1; i < EVIDENCE_ERRORS; i++) p.udpError();
    send(p, 1);
    p.masterCounts({ udp: 1, tcp: 0 });
    expect(p.udpError()).toBeNull();
  });

  test("on TCP, one report in PROBE_EVERY is a UDP probe; the first probe counted moves it back", () => {
    const p = started("auto");
    p.masterCounts({ udp: 0, tcp: 0 });
    send(p, EVIDENCE_REPORTS);
    expect(p.masterCounts({ udp: 0, tcp: 0 })?.to).toBe("tcp");
    const ways = send(p, 2 * PROBE_EVERY);
    expect(ways.filter((w) => w === "udp").length).toBe(2);
    expect(ways.filter((w) => w === "tcp").length).toBe(2 * PROBE_EVERY - 2);
    // Probes lost: stays on TCP.
    expect(p.masterCounts({ udp: 0, tcp: 8 })).toBeNull();
    // A probe arrived.
    expect(p.masterCounts({ udp: 1, tcp: 9 })?.to).toBe("udp");
    expect(p.next()).toBe("udp");
  });

  test("a new session on a master that still offers TCP keeps TCP; one without TCP goes back to UDP", () => {
    const p = started("auto");
    for (let i = 0; i < EVIDENCE_ERRORS; i++) p.udpError();
    expect(p.current).toBe("tcp");
    expect(p.session(6881)).toBeNull();
    expect(p.current).toBe("tcp");
    expect(p.session(null)?.to).toBe("udp");
  });

  test("without a TCP port from the master nothing moves (an old master, or none configured)", () => {
    const p = started("auto", null);
    p.masterCounts({ udp: 0, tcp: 0 });
    send(p, 10);
    expect(p.masterCounts({ udp: 0, tcp: 0 })).toBeNull();
    for (let i = 0; i < 5; i++) expect(p.udpError()).toBeNull();
    expect(p.current).toBe("udp");
  });
});
