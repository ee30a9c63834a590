#!/usr/bin/env bun
/**
 * One fleet simulator (fleet-sim.ts) in a process of its own, for a
 * benchmark that runs two fleets at once (bench/history.ts: a master with
 * history and one without, side by side): a process may hold 20,000 file
 * descriptors on the machines these benchmarks run on, and one fleet of
 * 10,000 agents needs 10,000 WebSockets.
 *
 * Usage: bun bench/lib/fleet-proc.ts OPTIONS.json (FleetSimOptions, httpPort
 * a number). Protocol (one JSON line each way, bench/lib/child.ts): prints
 * {"ready":true}; "start RATE" → {"started":true}; "registered" →
 * {"registered":N}; "quit" (or end of stdin) stops it.
 */
import { FleetSim, type FleetSimOptions } from "./fleet-sim.ts";

const opts = JSON.parse(process.argv[2] ?? "{}") as Omit<FleetSimOptions, "httpPort"> & { httpPort: number };
const sim = await FleetSim.create({ ...opts, httpPort: () => opts.httpPort });
console.log(JSON.stringify({ ready: true }));
const dec = new TextDecoder();
let rest = "";
loop: for await (const chunk of Bun.stdin.stream()) {
  rest += dec.decode(chunk, { stream: true });
  let i: number;
  while ((i = rest.indexOf("\n")) >= 0) {
    const [cmd, arg] = rest.slice(0, i).trim().split(" ");
    rest = rest.slice(i + 1);
    if (cmd === "start") {
      sim.startAll(Number(arg));
      console.log(JSON.stringify({ started: true }));
    } else if (cmd === "registered") console.log(JSON.stringify({ registered: sim.registeredCurrent, errors: sim.errors.slice(0, 3) }));
    else if (cmd === "quit") break loop;
    else console.log(JSON.stringify({ error: `unknown command '${cmd}'` }));
  }
}
await sim.stop();
process.exit(0);
