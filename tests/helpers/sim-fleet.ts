/**
 * Simulated agents for end-to-end tests that need more hosts than real
 * agent processes allow: each registers over the control channel
 * (bench/lib/register.ts: raw WebSockets that answer pings), then sends an
 * authenticated SLAVE_REPORT every interval (phases spread over the
 * interval, load1 changing with every report), and, like the real agent,
 * moves its reports to a new leader as soon as an announce of a higher term
 * verifies with its session key. The control channels are not reopened
 * after a master dies (tests look at load, not at channels).
 */
import type { udp } from "bun";
import { registerAll } from "../../bench/lib/register.ts";
import { decodeDatagram, encodeReport, OP, verifyTag, type LoadReport } from "../../src/wire/index.ts";

interface SimHost {
  hostname: string;
  hostId: number;
  key: Uint8Array;
  seq: number;
  dueMs: number;
  target: { ip: string; port: number };
  term: number;
}

export interface SimFleet {
  readonly hosts: readonly SimHost[];
  reportsSent: number;
  /** Reports moved to a new leader by its announce. */
  retargets: number;
  stop(): void;
}

const report = (seq: number): LoadReport => ({
  load1: (seq % 50) / 100, load5: 0.2, load15: 0.1, memUsed: 2e9, memFree: 6e9, swapUsed: 0, swapFree: 1e9, ncpus: 8,
  cpuUser: 5, cpuSys: 2, cpuIdle: 93, jobsRunning: 0, jobsPending: 0, procsTotal: 200 + (seq % 7), flags: 0,
});

export async function startSimFleet(opts: { master: { addr: string; udpPort: number }; token: string; n: number; prefix: string; intervalMs: number }): Promise<SimFleet> {
  const byId = new Map<number, SimHost>();
  const socket: udp.Socket<"buffer"> = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      error() {},
      data(_s, buf, port, address) {
        const d = decodeDatagram(buf);
        if (!d.ok || d.op !== OP.MASTER_ANN || !d.auth) return;
        const h = byId.get(d.auth.hostId);
        if (!h || !verifyTag(buf, h.key) || d.announce.term <= h.term) return;
        h.term = d.announce.term;
        if (h.target.port !== port || h.target.ip !== address) {
          h.target = { ip: address, port };
          fleet.retargets++;
        }
      },
    },
  });
  const [host, port] = opts.master.addr.split(":");
  const names = Array.from({ length: opts.n }, (_, i) => `${opts.prefix}${String(i).padStart(4, "0")}`);
  const reg = await registerAll({ host: host!, port: Number(port), token: opts.token, agents: names.map((hostname) => ({ hostname, reportPort: socket.port })), ratePerSec: 400, timeoutMs: 30_000 });
  const start = performance.now();
  const hosts: SimHost[] = reg.sessions.map((s, i) => ({
    hostname: names[i]!,
    hostId: s.hostId,
    key: s.key,
    seq: 0,
    dueMs: start + (i / opts.n) * opts.intervalMs,
    target: { ip: "127.0.0.1", port: s.udpPort },
    term: 0,
  }));
  for (const h of hosts) byId.set(h.hostId, h);
  const timer = setInterval(() => {
    const now = performance.now();
    for (const h of hosts) {
      if (now < h.dueMs) continue;
      h.dueMs += opts.intervalMs;
      h.seq++;
      try {
        socket.send(encodeReport(report(h.seq), { hostId: h.hostId, seq: h.seq, key: h.key }), h.target.port, h.target.ip);
        fleet.reportsSent++;
      } catch {
        // The master is gone (ICMP unreachable): like the agent, carry on until an announce moves us.
      }
    }
  }, 20);
  const fleet: SimFleet = {
    hosts,
    reportsSent: 0,
    retargets: 0,
    stop() {
      clearInterval(timer);
      for (const s of reg.sessions) s.channel.close();
      socket.close();
    },
  };
  return fleet;
}
