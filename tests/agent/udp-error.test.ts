import { expect, test } from "bun:test";
import { splitFrames, decodeDatagram } from "../../src/wire/index.ts";
import { openReporter } from "../../src/agent/reporter.ts";
import { ProcSampler } from "../../src/agent/procfs/index.ts";
import { seededRng } from "../helpers/rng.ts";
import { tempDir, writeProcFixture } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";

test("reports to a closed UDP port (ICMP unreachable) do not end the agent's process", async () => {
  // A port that was just free: nothing listens there, so each report bounces.
  const probe = await Bun.udpSocket({ hostname: "127.0.0.1" });
  const closedPort = probe.port;
  probe.close();
  const sampler = new ProcSampler(writeProcFixture(tempDir("lava-udp-err-")));
  const r = await openReporter({ port: 0, hostname: "udp-err", insecure: false, transport: "udp", intervalMs: 20, sampler, jobs: () => ({ running: 0, pending: 0 }), rng: seededRng(1), onDatagram: () => {} });
  try {
    r.startSession({ hostId: 1, key: new Uint8Array(32), target: { ip: "127.0.0.1", port: closedPort }, tcpPort: null });
    await waitFor(() => r.counters.reportsSent >= 10, 5000, "ten reports sent into the void");
    expect(r.counters.reportsSent).toBeGreaterThanOrEqual(10);
  } finally {
    r.close();
  }
}, 10_000);

test("auto: reports that bounce off a closed UDP port move to the master's TCP report port", async () => {
  const probe = await Bun.udpSocket({ hostname: "127.0.0.1" });
  const closedPort = probe.port;
  probe.close();
  const frames: Uint8Array[] = [];
  let pending = new Uint8Array(0);
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_s, chunk) {
        const buf = new Uint8Array(pending.length + chunk.length);
        buf.set(pending);
        buf.set(chunk, pending.length);
        const r = splitFrames(buf);
        if (!r.ok) throw new Error(r.reason);
        for (const f of r.frames) frames.push(f.slice());
        pending = buf.slice(r.consumed);
      },
    },
  });
  const sampler = new ProcSampler(writeProcFixture(tempDir("lava-udp-err-")));
  const r = await openReporter({ port: 0, hostname: "udp-tcp", insecure: false, transport: "auto", intervalMs: 20, sampler, jobs: () => ({ running: 0, pending: 0 }), rng: seededRng(2), onDatagram: () => {} });
  try {
    r.startSession({ hostId: 9, key: new Uint8Array(32), target: { ip: "127.0.0.1", port: closedPort }, tcpPort: listener.port });
    expect(r.transport).toBe("udp");
    await waitFor(() => frames.length >= 3, 5000, "reports arriving over TCP");
    expect(r.transport).toBe("tcp");
    expect(r.counters.reportsSentTcp).toBeGreaterThanOrEqual(3);
    for (const f of frames) {
      const d = decodeDatagram(f);
      expect(d.ok && d.op === 11 && d.auth?.hostId).toBe(9);
    }
  } finally {
    r.close();
    listener.stop(true);
  }
}, 10_000);
