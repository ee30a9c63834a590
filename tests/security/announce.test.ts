/**
 * Announces (design §2) go to every registered agent's report port. An agent
 * that stopped leaves a closed port behind: the ICMP "port unreachable" it
 * causes surfaces as ECONNREFUSED on a later send. One such host must not
 * silence the announces to the others (issue 11).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { udp } from "bun";
import { LocalMaster, RawAgent } from "../master/raw-agent.ts";
import { waitFor } from "../helpers/wait.ts";

let master: LocalMaster;
const agents: RawAgent[] = [];
let live: udp.Socket<"buffer">;
let received = 0;

beforeAll(async () => {
  master = await LocalMaster.start({ announceInterval: 0.2 });
  // Ports that were open once and are closed now: agents that stopped.
  const dead: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    dead.push(s.port);
    s.close();
  }
  for (const [i, port] of dead.entries()) agents.push(await RawAgent.connect(master, `gone-${i}`, "0.0.1-raw", port));
  live = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void received++ } });
  agents.push(await RawAgent.connect(master, "alive", "0.0.1-raw", live.port));
});

afterAll(async () => {
  for (const a of agents) await a.close();
  live?.close();
  await master?.stop();
});

describe("announce rounds", () => {
  test("hosts with closed report ports are counted and skipped; the live host keeps getting announces", async () => {
    // Several rounds, so that the unreachable errors of the first ones are there to trip the later sends.
    await waitFor(() => received >= 8, 8000, "8 announces at the live agent");
    const metrics = await (await master.fetch("/metrics")).text();
    const errors = Number(/lava_announce_send_errors_total (\d+)/.exec(metrics)?.[1]);
    expect(errors).toBeGreaterThan(0);
  }, 10_000);
});
