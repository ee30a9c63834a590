/**
 * A master's replication: the Raft driver, the HTTP transport between
 * masters, snapshots as SQLite database copies, and writes made on a
 * follower forwarded to the leader. MasterState talks to this only.
 */
import { mkdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { explainFailure, type MasterConfig, type PeerLink } from "../../config/index.ts";
import type { Message, SoftState } from "../../raft/types.ts";
import { parseRaftMessage } from "../../raft/index.ts";
import { checkSnapshotFile, SqliteRaftStorage, StoreError, type Applied, type Command, type Members, type OpenedStore } from "../../store/index.ts";
import { systemRng } from "../../rng/index.ts";
import { logger } from "../../log/index.ts";
import { AnswerRouter } from "./answers.ts";
import { RaftDriver } from "./driver.ts";
import { sqliteStateMachine } from "./state-machine.ts";
import { initialMembers } from "./members.ts";
import { bodyHash, PeerAuth } from "./peer-auth.ts";
import { HttpTransport } from "./transport.ts";

const log = logger("raft");

export interface ReplicationHooks {
  onApplied(a: Applied): void;
  onSnapshotInstalled(): void;
  onSoftState(s: SoftState, term: number): void;
  onMembers?(m: Members): void;
}

/** Where received and outgoing snapshot files live while in transit. */
const SNAP_DIR = "snapshots";

export class Replication {
  readonly storage: SqliteRaftStorage;
  readonly driver: RaftDriver<Applied>;
  readonly transport: HttpTransport;
  readonly auth: PeerAuth;
  private readonly snapDir: string;
  private readonly answers: AnswerRouter;
  private readonly snapshotWaits = new Map<number, ((r: { ok: boolean; detail: string }) => void)[]>();
  private snapSeq = 0;
  /**
   * Addresses of masters that called us but are not (yet) in our applied
   * membership: a new member learns where the leader is from its first
   * append, long before it has applied the entry that lists the leader.
   */
  private readonly learned = new Map<number, string>();

  constructor(
    private readonly store: OpenedStore,
    private readonly config: MasterConfig,
    secret: Uint8Array,
    dataDir: string,
    private readonly selfAddr: string,
    /** Scheme and TLS options for calling the other masters (master.tls). */
    private readonly peers: PeerLink,
    hooks: ReplicationHooks,
  ) {
    this.storage = new SqliteRaftStorage(store);
    this.auth = new PeerAuth(secret);
    this.snapDir = join(dataDir, SNAP_DIR);
    // Files left by a transfer the last run did not finish are useless now.
    rmSync(this.snapDir, { recursive: true, force: true });
    mkdirSync(this.snapDir, { recursive: true, mode: 0o700 });

    const id = config.nodeId;
    if (!config.raft.join && this.storage.bootstrap(initialMembers(id, selfAddr, config.raftPeers))) {
      log.info(`founding member ${id} of a cluster of ${this.storage.members.voters.length} master(s): ${Object.entries(this.storage.members.addrs).map(([k, a]) => `${k}=${a}`).join(", ")}`);
    }
    const members = this.storage.members;
    if (members.voters.length > 0 && !members.voters.includes(id)) log.warn(`node id ${id} is not among the voters (${members.voters.join(", ")}); it will follow but never lead`);

    this.transport = new HttpTransport({
      selfId: id,
      selfAddr,
      addrOf: (peer) => this.storage.members.addrs[peer] ?? this.learned.get(peer) ?? null,
      auth: this.auth,
      scheme: peers.scheme,
      tls: peers.tls,
      nowMs: () => Date.now(),
      onUnreachable: (peer) => this.driver.reportUnreachable(peer),
      onAnswers: (peer, path, nonce, headers, text) => this.readAnswers(peer, path, nonce, headers, text),
      onSnapshotSent: (peer, ok, detail) => {
        this.driver.reportSnapshot(peer, ok);
        for (const w of this.snapshotWaits.get(peer) ?? []) w({ ok, detail });
        this.snapshotWaits.delete(peer);
      },
      makeSnapshot: (path) => this.storage.createSnapshotFile(path),
      snapshotPath: (to) => join(this.snapDir, `out-${to}-${++this.snapSeq}.db`),
      snapshotTimeoutMs: config.raft.snapshotTimeout * 1000,
    });
    this.answers = new AnswerRouter(id, (msgs) => this.transport.send(msgs));
    this.driver = new RaftDriver(
      {
        id,
        tickMs: config.raft.tickMs,
        electionTicks: config.raft.electionTicks,
        heartbeatTicks: config.raft.heartbeatTicks,
        batchSize: config.raft.batchSize,
        maxInflight: config.raft.maxInflight,
        resyncThreshold: config.raft.resyncThreshold,
        keepEntries: config.raft.keepEntries,
        proposalTimeoutMs: config.raft.proposalTimeout * 1000,
        rng: systemRng,
        campaignAtStart: config.isLeader,
      },
      this.storage,
      sqliteStateMachine(store),
      {
        send: (msgs) => this.answers.route(msgs),
        onApplied: hooks.onApplied,
        onMembers: (m) => hooks.onMembers?.(m),
        onSnapshotInstalled: hooks.onSnapshotInstalled,
        onSoftState: hooks.onSoftState,
      },
    );
  }

  start(): void {
    this.driver.start();
  }

  stop(): void {
    this.driver.stop();
    this.transport.stop();
  }

  get isLeader(): boolean {
    return this.driver.isLeader;
  }
  get leaderAddr(): string | null {
    return this.driver.leaderAddr;
  }
  get members(): Members {
    return this.storage.members;
  }

  /** The only voter is this master: it commits alone, and nothing is forwarded. */
  get solo(): boolean {
    const v = this.storage.members.voters;
    return v.length === 1 && v[0] === this.config.nodeId;
  }

  /**
   * Commits a command. On the leader: through the local core. On a
   * follower: forwarded to the leader, then waited for here, so that the
   * caller sees its own write in this master's state.
   */
  async propose(cmd: Command): Promise<Applied> {
    if (this.driver.isLeader || this.solo) return this.driver.propose(JSON.stringify(cmd));
    const leader = this.driver.leaderAddr;
    if (!leader) throw new StoreError("no leader is elected right now (an election is under way, or no majority of masters is up); retry shortly", "not_leader");
    const path = "/_raft/propose";
    const request = JSON.stringify({ command: cmd });
    let res: Response;
    try {
      res = await fetch(`${this.peers.scheme}://${leader}${path}`, {
        tls: this.peers.tls,
        method: "POST",
        headers: { "content-type": "application/json", ...this.signRequest("POST", path, bodyHash(request)) },
        body: request,
        signal: AbortSignal.timeout(this.config.raft.proposalTimeout * 1000),
      });
    } catch (e) {
      throw new StoreError(`the leader at ${leader} did not answer (${explainFailure(e, this.peers.scheme, "master.tls.ca")}); the write may or may not be applied`, "unknown_outcome", leader);
    }
    const body = (await res.json().catch(() => ({}))) as { idx?: number; result?: Applied["result"]; error?: string; detail?: string; leader?: string | null };
    if (!res.ok || typeof body.idx !== "number" || !body.result) {
      const code = body.error === "not_leader" || body.error === "commit_timeout" || body.error === "unknown_outcome" ? body.error : "storage";
      throw new StoreError(`the leader refused the write: ${body.detail ?? `HTTP ${res.status}`}`, code, body.leader ?? null);
    }
    await this.driver.waitApplied(body.idx);
    return { idx: body.idx, cmd, result: body.result };
  }

  /** Linearizable reads: wait until this master's state is at least as new as any write acknowledged before now. */
  readBarrier(): Promise<void> {
    return this.driver.readBarrier();
  }

  /**
   * Handles a peer's message batch (already authenticated as `from`) and
   * returns what this master answers it, written to disk first. The answers
   * go back on the HTTP response instead of as a request of their own: for
   * an append that saves the follower a request and the leader a handler,
   * on the path every write waits for.
   */
  stepAndAnswer(from: number, msgs: Message[]): Message[] {
    return this.answers.answer(from, msgs, (mine) => this.driver.stepAndDrain(mine));
  }

  /** A peer's answers that came back on the response to our request (already checked). */
  stepAnswers(from: number, msgs: Message[]): void {
    for (const m of msgs) if (m.from === from && m.to === this.config.nodeId) this.driver.step(m);
  }

  /**
   * Answers on a response are signed like requests ("RESP" for the method):
   * the connection alone does not prove who answered without TLS.
   */
  private readAnswers(peer: number, path: string, requestNonce: string, headers: Headers, text: string): void {
    const who = this.auth.verifyAnswer(headers, path, requestNonce, bodyHash(text));
    if (!who.ok || who.from !== peer) {
      log.warn(`ignored answers from master ${peer} on ${path}: ${who.ok ? `signed by ${who.from}` : who.reason}`);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(raw)) return;
    const msgs: Message[] = [];
    for (const x of raw) {
      const m = parseRaftMessage(x);
      if (m.ok) msgs.push(m.message);
    }
    this.stepAnswers(peer, msgs);
  }

  /** Headers that sign this master's answers (`body`) on the response to a request (`requestNonce`) on `path`. */
  /** Peer-signature headers for a request of this master to another (`hash`: its body's, peer-auth.ts bodyHash). */
  signRequest(method: string, path: string, hash: string): Record<string, string> {
    return this.auth.sign(this.config.nodeId, this.selfAddr, method, path, hash).headers;
  }

  answerHeaders(path: string, requestNonce: string, body: string): Record<string, string> {
    return this.auth.signAnswer(this.config.nodeId, this.selfAddr, path, requestNonce, bodyHash(body));
  }

  /** An authenticated peer told us its address. */
  learn(from: number, addr: string): void {
    if (addr && this.storage.members.addrs[from] === undefined && this.learned.get(from) !== addr) this.learned.set(from, addr);
  }

  /** A file for an incoming snapshot. */
  incomingPath(from: number): string {
    return join(this.snapDir, `in-${from}-${++this.snapSeq}.db`);
  }

  /**
   * Installs a received snapshot file if the core takes it. Returns whether
   * it did; the file is removed either way (its rows were copied in).
   */
  installReceived(msg: Message, path: string): { installed: boolean; detail: string } {
    try {
      const meta = msg.snapshot?.meta;
      if (!meta) return { installed: false, detail: "no snapshot meta" };
      const problem = checkSnapshotFile(path, this.store, meta.index);
      if (problem) return { installed: false, detail: problem };
      const installed = this.driver.stepSnapshot(msg, path);
      return { installed, detail: installed ? `installed up to entry ${meta.index}` : "not needed: this master is already past it, or the sender is no longer the leader" };
    } finally {
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
    }
  }

  /** force-resync: snapshot `target` now and wait for the outcome. */
  forceResync(target: number): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve, reject) => {
      try {
        this.driver.forceSnapshot(target);
      } catch (e) {
        reject(e);
        return;
      }
      const list = this.snapshotWaits.get(target) ?? [];
      list.push(resolve);
      this.snapshotWaits.set(target, list);
    });
  }
}
