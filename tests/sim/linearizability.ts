/**
 * A linearizability checker: Wing & Gong's search with the memoization of
 * Lowe / Porcupine (a linearized set of operations plus the model state is
 * explored once) and P-compositionality (each key of a register map is
 * checked on its own).
 *
 * Operations carry `call` and `ret` stamps in real-time order. An
 * operation whose outcome is unknown (a write that timed out) has
 * ret = Infinity: it may take effect at any point after its call, or
 * never (it is then linearized last, where nothing observes it).
 */

export interface Operation<I, O> {
  input: I;
  output: O;
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
  /** For messages. */
  label?: string;
}

export interface Model<S, I, O> {
  init(): S;
  /** Is `output` a possible answer to `input` in state `s`, and what state follows? */
  step(s: S, input: I, output: O): { ok: boolean; next: S };
  /** Equal states give equal keys (the memo table's). */
  key(s: S): string;
}

export type CheckResult = { ok: true; steps: number } | { ok: false; steps: number; reason: "not_linearizable" | "budget_exceeded" };

/** Default step budget: far above what the simulator's histories need, low enough to stop a runaway search. */
export const DEFAULT_BUDGET = 20_000_000;

interface Ev {
  op: number;
  call: boolean;
  stamp: number;
  prev: Ev | null;
  next: Ev | null;
  /** A call's return event. */
  match: Ev | null;
}

class BitSet {
  private readonly w: Uint32Array;
  constructor(n: number) {
    this.w = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): void {
    this.w[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.w[i >>> 5]! &= ~(1 << (i & 31));
  }
  key(): string {
    return this.w.join(",");
  }
}

/** Checks one history against `model`; `budget` bounds the search steps. */
export function checkHistory<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget = DEFAULT_BUDGET): CheckResult {
  const n = ops.length;
  if (n === 0) return { ok: true, steps: 0 };
  const events: Ev[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (!(op.ret >= op.call)) throw new Error(`checkHistory: operation ${i} returns (${op.ret}) before its call (${op.call})`);
    const ret: Ev = { op: i, call: false, stamp: op.ret, prev: null, next: null, match: null };
    const call: Ev = { op: i, call: true, stamp: op.call, prev: null, next: null, match: ret };
    events.push(call, ret);
  }
  // Stamps are distinct in a recorded history; on a tie a call goes first (treated as concurrent: never a false alarm).
  events.sort((a, b) => a.stamp - b.stamp || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Ev = { op: -1, call: false, stamp: -Infinity, prev: null, next: null, match: null };
  let prev = head;
  for (const e of events) {
    e.prev = prev;
    prev.next = e;
    prev = e;
  }

  const lift = (e: Ev) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const r = e.match!;
    r.prev!.next = r.next;
    if (r.next) r.next.prev = r.prev;
  };
  const unlift = (e: Ev) => {
    const r = e.match!;
    r.prev!.next = r;
    if (r.next) r.next.prev = r;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  const linearized = new BitSet(n);
  const seen = new Set<string>();
  const stack: { e: Ev; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > budget) return { ok: false, steps, reason: "budget_exceeded" };
    if (entry === null) throw new Error("checkHistory: ran off the end of the history (a call without a return)");
    if (entry.call) {
      const op = ops[entry.op]!;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        linearized.set(entry.op);
        const k = `${linearized.key()}|${model.key(r.next)}`;
        if (!seen.has(k)) {
          seen.add(k);
          stack.push({ e: entry, state });
          state = r.next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.op);
      }
      entry = entry.next;
    } else {
      // A return whose call cannot be linearized before it: undo the last choice.
      const top = stack.pop();
      if (!top) return { ok: false, steps, reason: "not_linearizable" };
      entry = top.e;
      state = top.state;
      linearized.clear(entry.op);
      unlift(entry);
      entry = entry.next;
    }
  }
  return { ok: true, steps };
}

// ---- the register map the simulator's clients use

export type RegisterInput = { kind: "write"; value: string } | { kind: "read" };
/** A read's answer (null: never written); a write's output is ignored. */
export type RegisterOutput = string | null;

export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(s, input, output) {
    if (input.kind === "write") return { ok: true, next: input.value };
    return { ok: output === s, next: s };
  },
  key: (s) => (s === null ? "\u0000" : s),
};

export interface KvOperation extends Operation<RegisterInput, RegisterOutput> {
  key: string;
}

export type KvCheckResult = { ok: true; steps: number } | { ok: false; steps: number; key: string; reason: "not_linearizable" | "budget_exceeded"; ops: KvOperation[] };

/**
 * Checks a register map's history key by key. Open writes (ret =
 * Infinity) that no read returned are left out first: placed last, where
 * nothing observes them, they never change the answer, and each one
 * would double the search.
 */
export function checkKvHistory(ops: readonly KvOperation[], budget = DEFAULT_BUDGET): KvCheckResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let steps = 0;
  for (const [key, list] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const read = new Set<string>();
    for (const op of list) if (op.input.kind === "read" && op.output !== null) read.add(op.output);
    const kept = list.filter((op) => op.ret !== Infinity || op.input.kind !== "write" || read.has(op.input.value));
    const r = checkHistory(registerModel, kept, budget);
    steps += r.steps;
    if (!r.ok) return { ok: false, steps, key, reason: r.reason, ops: kept };
  }
  return { ok: true, steps };
}

/** A key's history as lines, for a failure message. */
export function describeOps(ops: readonly KvOperation[], max = 60): string {
  const sorted = [...ops].sort((a, b) => a.call - b.call);
  const lines = sorted.slice(0, max).map((op) => {
    const what = op.input.kind === "write" ? `write ${op.input.value}` : `read → ${op.output === null ? "∅" : op.output}`;
    const ret = op.ret === Infinity ? "open" : String(op.ret);
    return `  [${op.call} … ${ret}] ${op.label ?? ""} ${what}`;
  });
  if (sorted.length > max) lines.push(`  … ${sorted.length - max} more`);
  return lines.join("\n");
}
