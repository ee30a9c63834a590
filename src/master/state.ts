/**
 * The master's durable state and the in-memory views kept in step with it:
 * the command log applies to SQLite, and `onApplied` mirrors each applied
 * command into the host table and the revoked-token set, in log order.
 * That one path serves a fresh start (replay), a local write, and later a
 * Raft follower applying the leader's entries.
 */
import { allHosts, CommandLog, openStore, revokedTokenIds, type Applied, type Command, type OpenedStore } from "../store/index.ts";
import { logger } from "../log/index.ts";
import { sessionKey } from "../auth/index.ts";
import type { HostTable } from "./hosts/table.ts";

const log = logger("state");

export class MasterState {
  readonly store: OpenedStore;
  readonly clog: CommandLog;
  readonly revoked = new Set<string>();
  /** Called after a host is removed (to close its session). */
  onHostRemoved: (hostId: number) => void = () => {};
  /** Called for every applied job command (the job manager mirrors them). */
  onJobApplied: (a: Applied) => void = () => {};

  constructor(
    dataDir: string,
    private readonly hosts: HostTable,
    private readonly secret: Uint8Array,
  ) {
    this.store = openStore(dataDir);
    this.clog = new CommandLog(this.store, { onApplied: (a) => this.mirror(a) });
    const replayed = this.clog.replay();
    if (replayed > 0) log.info(`applied ${replayed} logged command(s) left unapplied by the last run`);
    for (const row of allHosts(this.store.db)) {
      hosts.upsert({
        hostId: row.hostId,
        hostname: row.hostname,
        hardware: { ncpus: row.ncpus, memBytes: row.memBytes, gpus: row.gpus, ...(row.os ? { os: row.os } : {}) },
        version: row.version,
        registeredAtMs: row.registeredAt,
        drained: row.drained,
      });
      if (row.sessionNonce) this.restoreSession(row.hostname, row.hostId, row.sessionNonce, row.reportIp ?? "", row.reportPort ?? 0);
    }
    for (const jti of revokedTokenIds(this.store.db)) this.revoked.add(jti);
    log.info(`state: ${hosts.size} host(s), ${this.revoked.size} revoked token(s), log at index ${this.clog.lastIndex}`);
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
    const connected = h.connected;
    this.hosts.attachSession(hostname, { reportIp, reportPort, nonce, key: sessionKey(this.secret, hostId, nonce) });
    h.connected = connected;
  }

  propose(cmd: Command): Promise<Applied> {
    return this.clog.propose(cmd);
  }

  private mirror(a: Applied): void {
    const { cmd, result } = a;
    if (cmd.type.startsWith("job.")) {
      this.onJobApplied(a);
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
        });
        if (cmd.session) this.restoreSession(cmd.hostname, hostId, cmd.session.nonce, cmd.session.reportIp, cmd.session.reportPort);
        return;
      }
      case "host.drain":
      case "host.resume": {
        const h = this.hosts.byHostname(cmd.hostname);
        if (h) h.drained = cmd.type === "host.drain";
        return;
      }
      case "host.remove": {
        const h = this.hosts.byHostname(cmd.hostname);
        if (h) {
          this.hosts.remove(cmd.hostname);
          this.onHostRemoved(h.hostId);
        }
        return;
      }
      case "token.revoke":
        this.revoked.add(cmd.jti);
        return;
      default:
        return;
    }
  }

  close(): void {
    this.store.sqlite.close();
  }
}
