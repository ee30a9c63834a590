/**
 * Drives RawNodes for unit tests, like etcd's raft_test.go `network`:
 * every node has a MemoryStorage it persists Readies into, messages go
 * into a queue the test delivers (or drops, or cuts), and applied entries
 * are recorded per node.
 */
import { MemoryStorage } from "../../src/raft/memory-storage.ts";
import { RawNode } from "../../src/raft/node.ts";
import { decodeConfChange } from "../../src/raft/confchange.ts";
import type { Entry, Message, MessageType, NodeId, RaftConfig, ReadState, Ready } from "../../src/raft/types.ts";
import { seededRng } from "../helpers/rng.ts";

export interface NodeOpts extends Partial<Omit<RaftConfig, "id" | "storage">> {
  storage?: MemoryStorage;
  /** Apply committed conf entries automatically (default true). */
  autoConf?: boolean;
}

export function config(id: NodeId, storage: MemoryStorage, o: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    storage,
    electionTick: 10,
    heartbeatTick: 1,
    maxEntriesPerMsg: 100,
    maxInflightMsgs: 256,
    resyncThreshold: 1000,
    preVote: false,
    checkQuorum: false,
    rng: seededRng(id * 7919),
    applied: 0,
    ...o,
  };
}

export class TestNode {
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  readonly readies: Ready[] = [];
  node: RawNode;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    readonly opts: NodeOpts,
  ) {
    this.node = new RawNode(config(id, storage, opts));
  }

  /** Persist, hand out messages, apply, advance (the Ready contract, in order). */
  handleReady(out: Message[]): boolean {
    if (!this.node.hasReady()) return false;
    const rd = this.node.ready();
    this.readies.push(rd);
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) out.push(m);
    for (const e of rd.committedEntries) {
      this.applied.push(e);
      if (e.type === "conf" && this.opts.autoConf !== false) {
        const cc = decodeConfChange(e.data);
        if (cc) this.node.applyConfChange(cc);
      }
    }
    for (const r of rd.readStates) this.readStates.push(r);
    this.node.advance(rd);
    return true;
  }

  /** Data of applied normal entries, no-ops left out. */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === "normal" && e.data !== "").map((e) => e.data);
  }

  /** The persisted log (after the snapshot). */
  log(): Entry[] {
    const s = this.storage;
    return s.lastIndex() >= s.firstIndex() ? s.entries(s.firstIndex(), s.lastIndex() + 1, 1e9) : [];
  }
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Undelivered messages. */
  queue: Message[] = [];
  /** Delivered messages, for assertions. */
  readonly delivered: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  /** Return true to drop a message. */
  filter: ((m: Message) => boolean) | undefined;

  constructor(ids: NodeId[], opts: NodeOpts = {}, perNode: Record<number, NodeOpts> = {}) {
    for (const id of ids) this.add(id, { ...opts, ...perNode[id] }, new MemoryStorage({ voters: ids }));
  }

  add(id: NodeId, opts: NodeOpts, storage = opts.storage ?? new MemoryStorage()): TestNode {
    const n = new TestNode(id, storage, opts);
    this.nodes.set(id, n);
    return n;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).node;
  }

  /** Collect every node's Ready output into the queue. */
  flush(): void {
    let again = true;
    while (again) {
      again = false;
      for (const n of this.nodes.values()) {
        if (this.down.has(n.id)) continue;
        if (n.handleReady(this.queue)) again = true;
      }
    }
  }

  /** Deliver until quiet (bounded, so a livelock fails the test instead of hanging). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.flush();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error("cluster did not stabilize");
  }

  deliver(m: Message): void {
    if (this.down.has(m.to) || this.down.has(m.from) || this.cut.has(`${m.from}>${m.to}`)) return;
    if (this.filter?.(m)) return;
    const n = this.nodes.get(m.to);
    if (!n) return;
    this.delivered.push(m);
    n.node.step(m);
  }

  /** Messages in the queue of a type (without delivering them). */
  take(type?: MessageType): Message[] {
    this.flush();
    const out = this.queue.filter((m) => !type || m.type === type);
    this.queue = type ? this.queue.filter((m) => m.type !== type) : [];
    return out;
  }

  tick(id: NodeId, n = 1): void {
    for (let k = 0; k < n; k++) this.raw(id).tick();
  }

  tickAll(n = 1): void {
    for (let k = 0; k < n; k++) for (const node of this.nodes.values()) if (!this.down.has(node.id)) node.node.tick();
  }

  /** Elect `id` by campaigning (pre-vote included if on) and settling. */
  elect(id: NodeId): void {
    this.raw(id).campaign();
    this.stabilize();
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
    this.filter = undefined;
  }

  stop(id: NodeId): void {
    this.down.add(id);
  }

  /** Restart `id` from its storage (what survives a crash). */
  restart(id: NodeId, opts: NodeOpts = {}): TestNode {
    const old = this.get(id);
    this.down.delete(id);
    const applied = opts.applied ?? old.storage.snapshot().meta.index;
    return this.add(id, { ...old.opts, ...opts, applied }, old.storage);
  }

  propose(id: NodeId, data: string) {
    const r = this.raw(id).propose(data);
    this.stabilize();
    return r;
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !this.down.has(n.id) && n.node.status().role === "leader").map((n) => n.id);
  }
}

/** A message with the given fields (from/to/term required). */
export function msg(m: Partial<Message> & Pick<Message, "type" | "from" | "to" | "term">): Message {
  return m as Message;
}

export function ents(...terms: number[]): Entry[] {
  return terms.map((term, k) => ({ index: k + 1, term, type: "normal", data: `e${k + 1}` }));
}

/** A storage whose log already holds entries with these terms (index 1, 2, …) and the given hard state term. */
export function storageWith(voters: NodeId[], terms: number[], hsTerm = terms[terms.length - 1] ?? 0): MemoryStorage {
  const s = new MemoryStorage({ voters });
  s.append(ents(...terms));
  s.setHardState({ term: hsTerm, vote: 0, commit: 0 });
  return s;
}

/** A lone node (its peers exist only as ids), for tests that step messages by hand. */
export function lone(id: NodeId, voters: NodeId[], o: NodeOpts = {}, storage?: MemoryStorage): TestNode {
  return new TestNode(id, storage ?? new MemoryStorage({ voters }), o);
}

/** Handles the node's Ready (persist, apply, advance) and returns the messages it wanted sent. */
export function drain(n: TestNode): Message[] {
  const out: Message[] = [];
  while (n.handleReady(out)) {
    // again: applying may produce more
  }
  return out;
}

/** Makes `n` leader of a fresh term without a network: campaign, then grant it every vote. */
export function forceLeader(n: TestNode): void {
  n.node.campaign();
  for (let round = 0; round < 2 && n.node.status().role !== "leader"; round++) {
    const reqs = drain(n).filter((m) => m.type === "vote" || m.type === "prevote");
    for (const r of reqs) n.node.step({ type: r.type === "vote" ? "vote_resp" : "prevote_resp", from: r.to, to: n.id, term: r.term });
  }
  if (n.node.status().role !== "leader") throw new Error(`node ${n.id} did not become leader`);
}
