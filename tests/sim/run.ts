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
import { parseFlags, usageText, type FlagSpec } from "../../bench/lib/args.ts";
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
const COMMAND = "scripts/sim";

function usage(why: string): never {
  console.error(`${COMMAND}: ${why}\n${usageText(COMMAND, SPEC)}`);
  process.exit(2);
}

/** The flags, parsed by the one parser of bench/ and scripts/ (bench/lib/args.ts). */
const SPEC = {
  seeds: { kind: "string", default: null, help: "run seeds start … start+N-1 (on 3 and on 5 nodes unless --nodes)" },
  seed: { kind: "string", default: null, help: "replay one run exactly" },
  start: { kind: "number", default: 1, min: 0, integer: true, help: "first seed of --seeds" },
  nodes: { kind: "string", default: null, help: "cluster size: 3 or 5 (1 too with --driver)" },
  driver: { kind: "boolean", default: false, help: "the driver-level simulation (the RaftDriver that ships) instead of the core's" },
  trace: { kind: "boolean", default: false, help: "print every event (with --seed)" },
  "keep-going": { kind: "boolean", default: false, help: "do not stop at the first failing seed" },
  break: { kind: "string", default: null, help: `break on purpose, comma-separated: ${[...KNOBS, ...DRIVER_KNOBS].join(", ")}` },
} as const satisfies Record<string, FlagSpec>;

function parse(argv: string[]): Args {
  const f = parseFlags(COMMAND, argv, SPEC);
  const given = (v: string | null, flag: string): number | undefined => {
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) usage(`--${flag} needs a non-negative integer, got ${v}`);
    return n;
  };
  const a: Args = { start: f.start, trace: f.trace, keepGoing: f["keep-going"], driver: f.driver, seeds: given(f.seeds, "seeds"), seed: given(f.seed, "seed"), nodes: given(f.nodes, "nodes") };
  if (a.nodes !== undefined && a.nodes !== 1 && a.nodes !== 3 && a.nodes !== 5) usage("--nodes must be 3 or 5 (or 1 with --driver)");
  for (const k of f.break === null ? [] : f.break.split(",").filter(Boolean)) {
    if (KNOBS.includes(k as (typeof KNOBS)[number])) a.knobs = { ...a.knobs, [k as (typeof KNOBS)[number]]: true };
    else if (DRIVER_KNOBS.includes(k as (typeof DRIVER_KNOBS)[number])) a.driverKnobs = { ...a.driverKnobs, [k as (typeof DRIVER_KNOBS)[number]]: true };
    else usage(`--break needs one of ${[...KNOBS, ...DRIVER_KNOBS].join(", ")}, got ${k}`);
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
