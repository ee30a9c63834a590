/**
 * scripts/sim: runs simulation seeds outside bun test.
 *
 *   scripts/sim --seeds 2000            seeds 1..1000 on 3 nodes and 1..1000 on 5 nodes
 *   scripts/sim --seeds 500 --nodes 5   seeds 1..500 on 5 nodes
 *   scripts/sim --seeds 100 --start 5000
 *   scripts/sim --seed 42 --nodes 3     replays one run (add --trace for every event)
 *   scripts/sim --seeds 20 --break voteIgnoresLog   the same with the core broken on purpose
 *                                       (RaftTestingKnobs: voteIgnoresLog, skipPrevTermCheck,
 *                                       commitPriorTerms), to watch the checks fail
 *   scripts/sim --driver --seeds 3000   the driver-level simulation (the RaftDriver that ships,
 *                                       on a simulated disk): seeds 1..1000 on 1, 3 and 5 masters
 *   scripts/sim --driver --seed 42 --nodes 3 [--trace]   replays one driver-level run
 *   scripts/sim --driver --seeds 30 --break ackBeforeWrite   the driver broken on purpose
 *                                       (DriverTestingKnobs: applyBeforeWrite, ackBeforeWrite)
 *
 * Exit status: 0 when every run passed, 1 when one failed (its replay
 * command is printed), 2 on bad arguments.
 */
import { runSimulation, type BrokenKnobs, type SimResult } from "./simulation.ts";
import { runDriverSimulation, type BrokenDriver } from "./driver/simulation.ts";

interface Args {
  seeds?: number;
  seed?: number;
  start: number;
  nodes?: number;
  trace: boolean;
  keepGoing: boolean;
  driver: boolean;
  knobs?: BrokenKnobs;
  driverKnobs?: BrokenDriver;
}

const KNOBS = ["voteIgnoresLog", "skipPrevTermCheck", "commitPriorTerms"] as const;
const DRIVER_KNOBS = ["applyBeforeWrite", "ackBeforeWrite"] as const;

function usage(why: string): never {
  console.error(`scripts/sim: ${why}\nusage: scripts/sim [--driver] --seeds N [--nodes 3|5 (--driver: 1|3|5)] [--start S] [--keep-going] | [--driver] --seed S [--nodes N] [--trace]   [--break KNOB]`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const a: Args = { start: 1, trace: false, keepGoing: false, driver: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const num = (): number => {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || !Number.isSafeInteger(n) || n < 0) usage(`${flag} needs a non-negative integer, got ${v ?? "nothing"}`);
      return n;
    };
    switch (flag) {
      case "--seeds":
        a.seeds = num();
        break;
      case "--seed":
        a.seed = num();
        break;
      case "--start":
        a.start = num();
        break;
      case "--nodes":
        a.nodes = num();
        if (a.nodes !== 1 && a.nodes !== 3 && a.nodes !== 5) usage("--nodes must be 3 or 5 (or 1 with --driver)");
        break;
      case "--driver":
        a.driver = true;
        break;
      case "--trace":
        a.trace = true;
        break;
      case "--keep-going":
        a.keepGoing = true;
        break;
      case "--break": {
        const k = argv[++i];
        if (KNOBS.includes(k as (typeof KNOBS)[number])) a.knobs = { ...a.knobs, [k as (typeof KNOBS)[number]]: true };
        else if (DRIVER_KNOBS.includes(k as (typeof DRIVER_KNOBS)[number])) a.driverKnobs = { ...a.driverKnobs, [k as (typeof DRIVER_KNOBS)[number]]: true };
        else usage(`--break needs one of ${[...KNOBS, ...DRIVER_KNOBS].join(", ")}, got ${k ?? "nothing"}`);
        break;
      }
      case "-h":
      case "--help":
        usage("help");
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  if (a.seed === undefined && a.seeds === undefined) usage("give --seeds N or --seed S");
  if (!a.driver && a.nodes === 1) usage("--nodes 1 is for --driver runs (the core-level simulation runs 3 or 5 nodes)");
  if (a.driver && a.knobs) usage(`--break ${Object.keys(a.knobs).join(", ")} breaks the core; with --driver use ${DRIVER_KNOBS.join(" or ")}`);
  if (!a.driver && a.driverKnobs) usage(`--break ${Object.keys(a.driverKnobs).join(", ")} breaks the driver: add --driver`);
  return a;
}

function line(r: SimResult, level: string): string {
  const w = r.workload;
  return `seed ${r.seed} (${r.nodes} ${level}): ${r.ok ? "ok" : "FAILED"} — ${r.simMs} ms simulated, ${r.events} events, ${r.elections} elections, ${r.crashes} crashes, commit ${r.committed}, writes ${w.writesOk} ok / ${w.writesUnknown} unknown / ${w.writesFailed} failed, reads ${w.readsOk} ok / ${w.readsFailed} failed`;
}

const args = parse(process.argv.slice(2));
const level = args.driver ? "masters" : "nodes";
const run = (seed: number, nodes: number, trace?: (l: string) => void): SimResult =>
  args.driver
    ? runDriverSimulation({ seed, nodes, ...(args.driverKnobs ? { knobs: args.driverKnobs } : {}), ...(trace ? { trace } : {}) })
    : runSimulation({ seed, nodes, ...(args.knobs ? { knobs: args.knobs } : {}), ...(trace ? { trace } : {}) });

if (args.seed !== undefined) {
  const nodes = args.nodes ?? 3;
  const r = run(args.seed, nodes, args.trace ? (l: string) => console.log(l) : undefined);
  console.log(line(r, level));
  if (!r.ok) console.log(r.failure);
  process.exit(r.ok ? 0 : 1);
}

const total = args.seeds!;
const plan: { seed: number; nodes: number }[] = [];
const sizes = args.nodes ? [args.nodes] : args.driver ? [1, 3, 5] : [3, 5];
// The runs spread over the sizes: seeds start..start+per-1 on each (the last size takes the rest).
let left = total;
for (let k = 0; k < sizes.length; k++) {
  const n = k === sizes.length - 1 ? left : Math.ceil(total / sizes.length);
  for (let s = args.start; s < args.start + n; s++) plan.push({ seed: s, nodes: sizes[k]! });
  left -= n;
}
const t0 = performance.now();
const failed: SimResult[] = [];
const coverage = new Map<string, number>();
let done = 0;
for (const { seed, nodes } of plan) {
  const r = run(seed, nodes);
  done++;
  for (const [k, n] of Object.entries(r.coverage)) coverage.set(k, (coverage.get(k) ?? 0) + n);
  if (!r.ok) {
    failed.push(r);
    console.log(line(r, level));
    console.log(r.failure);
    console.log(`replay: ${r.replay}`);
    if (!args.keepGoing) break;
  } else if (done % 100 === 0) {
    console.log(`${done}/${plan.length} runs passed (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);
if (process.env.LAVA_SIM_COVERAGE) for (const [k, n] of [...coverage].sort()) console.log(`  ${k}: ${n}`);
if (failed.length === 0) console.log(`all ${done} runs passed in ${secs} s`);
else console.log(`${failed.length} of ${done} runs failed in ${secs} s; first replay: ${failed[0]!.replay}`);
process.exit(failed.length === 0 ? 0 : 1);
