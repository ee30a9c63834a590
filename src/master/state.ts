/**
 * The master's durable state and the in-memory views kept in step with it.
 * Every change is a command in the Raft log (src/master/raft); applying it
 * writes SQLite, and `mirror` copies each applied command into the host
 * table and the revoked-token set, in log order. That one path serves a
 * restart (entries committed but not yet applied), a local write, and a
 * follower applying the leader's entries. A snapshot from the leader
 * replaces the database; the views are then loaded from it again.
 */
import { allHosts, openStore, revokedTokenIds, type Applied, type Command, type Members, type OpenedStore } from "../store/index.ts";
import type { MasterConfig, PeerLink } from "../config/index.ts";
import { logger } from "../log/index.ts";
import { sessionKey } from "../auth/index.ts";
import type { HostTable } from "./hosts/table.ts";
import { Replication } from "./raft/replication.ts";

const log = logger("state");

/** What lives outside the durable state and follows what is applied to it, in log order. */
export interface StateEffects {
  /** A host was removed (its session, history and requests go too). */
  hostRemoved(hostId: number): void;
  /** A host's key binding was reset or its sessions revoked (its session is closed). */
  hostSessionsRevoked(hostId: number, why: string): void;
  /** A token was revoked (the sessions it opened are closed). */
  tokenRevoked(jti: string): void;
  /** Every applied job command (the job manager mirrors them). */
  jobApplied(a: Applied): void;
  /** The state was replaced by a snapshot: views other than ours reload too. */
  reloaded(): void;
  /** This master became the leader (true) or stopped being it (false). */
  leadership(leading: boolean): void;
}

export class MasterState {
  readonly store: OpenedStore;
  private repl: Replication | null = null;
  readonly revoked = new Set<string>();
  private leading = false;

  constructor(
    private readonly dataDir: string,
    private readonly hosts: HostTable,
    private readonly secret: Uint8Array,
  ) {
    this.store = openStore(dataDir);
    this.loadViews();
  }

  /**
   * Starts the Raft node once this master's address is known (after its
   * HTTP port is bound). From here on commands are applied, so `effects`
   * (what lives outside the state and follows it) is given now, when
   * everything it reaches has been built.
   */
  startReplication(config: MasterConfig, selfAddr: string, peers: PeerLink, effects: StateEffects): Replication {
    const repl = new Replication(this.store, config, this.secret, this.dataDir, selfAddr, peers, {
      onApplied: (a) => this.mirror(a, effects),
      onSnapshotInstalled: () => {
        this.loadViews();
        effects.reloaded();
      },
      onSoftState: (soft, term) => {
        const leading = soft.role === "leader";
        log.info(leading ? `this master (node ${config.nodeId}) is the leader in term ${term}` : `node ${config.nodeId} is ${soft.role}${soft.leader ? `; the leader is node ${soft.leader}` : "; no leader yet"} (term ${term})`);
        if (leading !== this.leading) {
          this.leading = leading;
          effects.leadership(leading);
        }
      },
      onMembers: (m: Members) => log.info(`masters: ${m.voters.map((v) => `${v}=${m.addrs[v] ?? "?"}`).join(", ")}`),
    });
    this.repl = repl;
    repl.start();
    log.info(`state: ${this.hosts.size} host(s), ${this.revoked.size} revoked token(s), log at index ${repl.storage.lastIndex()} (applied ${repl.storage.lastApplied})`);
    return repl;
  }

  get replication(): Replication {
    if (!this.repl) throw new Error("state: replication not started");
    return this.repl;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Part of a cluster of masters (a follower must defer to the leader), not a master alone. */
  get clustered(): boolean {
    return this.repl !== null && !this.repl.solo;
  }

  propose(cmd: Command): Promise<Applied> {
    return this.replication.propose(cmd);
  }

  /**
   * Before a read of durable state: in a cluster, waits until this master
   * has applied every write acknowledged before the call (read index), so a
   * deposed leader cannot answer from stale state. A master alone is always
   * current.
   */
  async linearizable(): Promise<void> {
    if (this.clustered) await this.replication.readBarrier();
  }

  /** Host records and revoked tokens, from the database as it is now. */
  private loadViews(): void {
    const rows = allHosts(this.store.db);
    const keep = new Set(rows.map((r) => r.hostname));
    for (const h of [...this.hosts.values()]) if (!keep.has(h.hostname)) this.hosts.remove(h.hostname);
    for (const row of rows) {
      this.hosts.upsert({
        hostId: row.hostId,
        hostname: row.hostname,
        hardware: { ncpus: row.ncpus, memBytes: row.memBytes, gpus: row.gpus, ...(row.os ? { os: row.os } : {}), ...(row.labels ? { labels: JSON.parse(row.labels) as string[] } : {}) },
        version: row.version,
        registeredAtMs: row.registeredAt,
        drained: row.drained,
        drainReason: row.drainReason ?? null,
        hostKey: row.hostKey,
        sessionGen: row.sessionGen,
      });
      if (row.sessionNonce) this.restoreSession(row.hostname, row.hostId, row.sessionNonce, row.reportIp ?? "", row.reportPort ?? 0);
    }
    this.revoked.clear();
    for (const jti of revokedTokenIds(this.store.db)) this.revoked.add(jti);
  }

  /**
   * Gives a host the session its latest registration recorded, so its
   * reports verify at once: after a restart, or on a replica that applies
   * the leader's log. The control channel is not up (connected stays false)
   * until the agent connects to this master. The replay check restarts at
   * seq 0 for the session: a replayed old report can set stale load once,
   * until the agent's next report (documented in docs/operations.md).
   */
  private restoreSession(hostname: string, hostId: number, nonce: string, reportIp: string, reportPort: number): void {
    const h = this.hosts.byHostname(hostname);
    if (!h || h.hostId !== hostId) return;
    if (h.session?.nonce === nonce) return; // this process made it
    this.hosts.attachSession(hostname, { reportIp, reportPort, nonce, key: sessionKey(this.secret, hostId, nonce) }, h.connected);
  }

  private mirror(a: Applied, fx: StateEffects): void {
    const { cmd, result } = a;
    // A repeated request id changed nothing: its first application was mirrored already.
    if (result.replayOf !== undefined) return;
    if (cmd.type.startsWith("job.")) {
      fx.jobApplied(a);
      return;
    }
    if (!result.ok) return;
    switch (cmd.type) {
      case "host.register": {
        const hostId = result.value!.hostId as number;
        const existing = this.hosts.byHostId(hostId);
        this.hosts.upsert({
          hostId,
          hostname: cmd.hostname,
          hardware: cmd.hardware,
          version: cmd.version,
          registeredAtMs: existing?.registeredAtMs ?? cmd.at,
          drained: existing?.drained ?? false,
          drainReason: existing?.drainReason ?? null,
          hostKey: cmd.hostKey ?? existing?.hostKey ?? null,
          sessionGen: existing?.sessionGen ?? 0,
        });
        if (cmd.session) this.restoreSession(cmd.hostname, hostId, cmd.session.nonce, cmd.session.reportIp, cmd.session.reportPort);
        return;
      }
      case "host.drain":
      case "host.resume": {
        const h = this.hosts.byHostname(cmd.hostname);
        if (h) this.hosts.setDrained(h, cmd.type === "host.drain", cmd.type === "host.drain" ? (cmd.reason ?? null) : null);
        return;
      }
      case "host.remove":
        this.forget(cmd.hostname, fx);
        return;
      case "host.remove-many":
        for (const name of result.value!.removed as string[]) this.forget(name, fx);
        return;
      case "host.reset-key":
      case "host.revoke-sessions": {
        const h = this.hosts.byHostname(cmd.hostname);
        if (!h) return;
        h.sessionGen = result.value!.sessionGen as number;
        if (cmd.type === "host.reset-key") h.hostKey = null;
        fx.hostSessionsRevoked(h.hostId, cmd.type === "host.reset-key" ? "host key binding reset by an admin" : "sessions revoked by an admin");
        return;
      }
      case "token.revoke":
        this.revoked.add(cmd.jti);
        fx.tokenRevoked(cmd.jti);
        return;
      default:
        return;
    }
  }

  private forget(hostname: string, fx: StateEffects): void {
    const h = this.hosts.byHostname(hostname);
    if (!h) return;
    this.hosts.remove(hostname);
    fx.hostRemoved(h.hostId);
  }

  close(): void {
    this.repl?.stop();
    this.store.sqlite.close();
  }
}
