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
 *
 * Exit status: 0 when every run passed, 1 when one failed (its replay
 * command is printed), 2 on bad arguments.
 */
import { runSimulation, type BrokenKnobs, type SimResult } from "./simulation.ts";

interface Args {
  seeds?: number;
  seed?: number;
  start: number;
  nodes?: number;
  trace: boolean;
  keepGoing: boolean;
  knobs?: BrokenKnobs;
}

const KNOBS = ["voteIgnoresLog", "skipPrevTermCheck", "commitPriorTerms"] as const;

function usage(why: string): never {
  console.error(`scripts/sim: ${why}\nusage: scripts/sim --seeds N [--nodes 3|5] [--start S] [--keep-going] | --seed S [--nodes 3|5] [--trace]   [--break KNOB]`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const a: Args = { start: 1, trace: false, keepGoing: false };
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
        if (a.nodes !== 3 && a.nodes !== 5) usage("--nodes must be 3 or 5");
        break;
      case "--trace":
        a.trace = true;
        break;
      case "--keep-going":
        a.keepGoing = true;
        break;
      case "--break": {
        const k = argv[++i];
        if (!KNOBS.includes(k as (typeof KNOBS)[number])) usage(`--break needs one of ${KNOBS.join(", ")}, got ${k ?? "nothing"}`);
        a.knobs = { ...a.knobs, [k as (typeof KNOBS)[number]]: true };
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
  return a;
}

function line(r: SimResult): string {
  const w = r.workload;
  return `seed ${r.seed} (${r.nodes} nodes): ${r.ok ? "ok" : "FAILED"} — ${r.simMs} ms simulated, ${r.events} events, ${r.elections} elections, ${r.crashes} crashes, commit ${r.committed}, writes ${w.writesOk} ok / ${w.writesUnknown} unknown / ${w.writesFailed} failed, reads ${w.readsOk} ok / ${w.readsFailed} failed`;
}

const args = parse(process.argv.slice(2));
if (args.seed !== undefined) {
  const nodes = args.nodes ?? 3;
  const r = runSimulation({ seed: args.seed, nodes, ...(args.knobs ? { knobs: args.knobs } : {}), ...(args.trace ? { trace: (l: string) => console.log(l) } : {}) });
  console.log(line(r));
  if (!r.ok) console.log(r.failure);
  process.exit(r.ok ? 0 : 1);
}

const total = args.seeds!;
const plan: { seed: number; nodes: number }[] = [];
if (args.nodes) for (let s = args.start; s < args.start + total; s++) plan.push({ seed: s, nodes: args.nodes });
else {
  const half = Math.ceil(total / 2);
  for (let s = args.start; s < args.start + half; s++) plan.push({ seed: s, nodes: 3 });
  for (let s = args.start; s < args.start + total - half; s++) plan.push({ seed: s, nodes: 5 });
}
const t0 = performance.now();
const failed: SimResult[] = [];
const coverage = new Map<string, number>();
let done = 0;
for (const { seed, nodes } of plan) {
  const r = runSimulation({ seed, nodes, ...(args.knobs ? { knobs: args.knobs } : {}) });
  done++;
  for (const [k, n] of Object.entries(r.coverage)) coverage.set(k, (coverage.get(k) ?? 0) + n);
  if (!r.ok) {
    failed.push(r);
    console.log(line(r));
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
