import { expect, test } from "bun:test";
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
  const r = await openReporter({ port: 0, hostname: "udp-err", insecure: false, intervalMs: 20, sampler, jobs: () => ({ running: 0, pending: 0 }), rng: seededRng(1), onDatagram: () => {} });
  try {
    r.startSession({ hostId: 1, key: new Uint8Array(32), target: { ip: "127.0.0.1", port: closedPort } });
    await waitFor(() => r.counters.reportsSent >= 10, 5000, "ten reports sent into the void");
    expect(r.counters.reportsSent).toBeGreaterThanOrEqual(10);
  } finally {
    r.close();
  }
}, 10_000);
