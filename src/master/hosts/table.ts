/**
 * The master's live host table: every registered host, its session and its
 * last load report, in plain memory (design §1: every query is answered from
 * here). Pure: times come in as arguments.
 */
import type { LoadReport } from "../../wire/index.ts";
import type { AgentHealthStatus, Hardware } from "../../control/index.ts";

export interface Session {
  /** Random per registration; with hostId it derives the session key. */
  nonce: string;
  key: Uint8Array;
  /** Highest AUTH seq accepted in this session (0 = none yet). */
  lastSeq: number;
  /** First seq accepted in this session, for loss accounting. */
  firstSeq: number;
  received: number;
  /** Of `received`, those that came over TCP (the agent's pings say both; docs/protocol.md "TCP transport"). */
  receivedTcp: number;
}

export interface HostEntry {
  hostId: number;
  hostname: string;
  hardware: Hardware;
  version: string;
  registeredAtMs: number;
  /** Where reports come from and announces go: registration source IP, agent's reportPort. */
  reportIp: string;
  reportPort: number;
  session: Session | null;
  /** Control channel up. Changed only through the table (HostTable.setConnected): its listener mirrors it. */
  readonly connected: boolean;
  /** When the control channel last went down (0: never up in this process). */
  disconnectedAtMs: number;
  /**
   * The host's control channel is up at another master, as far as this one
   * knows, until this time (0: not): on a follower, at the leader (from its
   * MASTER_SYNC); on a new leader, at the previous one, for a grace while
   * its agent moves over (src/master/sync/). Shown state only: nothing is
   * sent to a host on the strength of it.
   */
  channelElsewhereUntilMs: number;
  report: LoadReport | null;
  lastReportMs: number;
  /** Loss counted over all sessions: seq gaps, and reports received. */
  lostTotal: number;
  receivedTotal: number;
  /** Changed only through the table (upsert, setDrained): its listener mirrors it. */
  readonly drained: boolean;
  /** Announces to this host whose send failed (its report port closed, say). */
  announceErrors: number;
  /** Why an admin drained it (`lava ctl drain --reason`); null when not drained or none given. */
  drainReason: string | null;
  /** Fingerprint of the bound host key (null: not bound yet). */
  hostKey: string | null;
  /** Session tokens of an older generation are refused. */
  sessionGen: number;
  /** What the agent last said of itself (`status`); memory only. */
  agentStatus: AgentHealthStatus;
  agentStatusDetail: string | null;
}

export const addrKey = (ip: string, port: number) => `${ip}:${port}`;

/** The durable part of a host: what the command log knows about it. */
export interface HostRecord {
  hostId: number;
  hostname: string;
  hardware: Hardware;
  version: string;
  registeredAtMs: number;
  drained: boolean;
  drainReason?: string | null;
  /** Absent: not bound (tests and benchmarks that build records by hand). */
  hostKey?: string | null;
  sessionGen?: number;
}

export interface SessionInput {
  reportIp: string;
  reportPort: number;
  nonce: string;
  key: Uint8Array;
}

/**
 * What the table tells its listener: a host came or went, or a field others
 * mirror (connected, drained) changed, or a report came other than by
 * ingest. A report ingest accepts is not announced here: it reaches its
 * consumers from the ingest path itself (server.ts, `accepted`), the hot
 * path, without a call through this interface.
 */
export interface HostChanges {
  /** A host is in the table (new, or its durable fields were written again: hardware, drained). */
  added(h: HostEntry): void;
  /** Its control channel went up or down, it was drained or resumed, or a report came by MASTER_SYNC (`reported`). */
  changed(h: HostEntry): void;
  /** It left the table (removed, or replaced by an entry with a new id). */
  removed(h: HostEntry): void;
}

/** The table's own view of an entry: the fields it alone writes are writable here. */
type Writable = { -readonly [K in keyof HostEntry]: HostEntry[K] };

export class HostTable {
  private readonly byName = new Map<string, HostEntry>();
  private readonly byId = new Map<number, HostEntry>();
  /**
   * For --insecure reports, which carry no host id: identified by source
   * address. Only an --insecure master reads it, so only one keeps it (an
   * entry and its address string are ~0.1 KB per host).
   */
  private readonly byAddr = new Map<string, HostEntry>();
  private readonly indexSources: boolean;
  private readonly changes: HostChanges | null;

  /**
   * `changes` hears of every host added, changed and removed (the
   * composition root gives it: the load table's writer), so what mirrors
   * the table is written when it changes, not found by a scan.
   */
  constructor(opts: { indexSources?: boolean; changes?: HostChanges } = {}) {
    this.indexSources = opts.indexSources ?? true;
    this.changes = opts.changes ?? null;
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * Creates or updates a host's durable fields (from an applied command or
   * from the database at start-up). Live fields (session, report) stay.
   */
  upsert(rec: HostRecord): HostEntry {
    let host = this.byName.get(rec.hostname);
    if (host && host.hostId !== rec.hostId) {
      // Removed and registered again: a new id, so a new entry.
      this.remove(rec.hostname);
      host = undefined;
    }
    if (!host) {
      const entry: HostEntry = {
        ...rec,
        drainReason: rec.drainReason ?? null,
        hostKey: rec.hostKey ?? null,
        sessionGen: rec.sessionGen ?? 0,
        reportIp: "",
        reportPort: 0,
        session: null,
        connected: false,
        disconnectedAtMs: 0,
        channelElsewhereUntilMs: 0,
        report: null,
        lastReportMs: 0,
        lostTotal: 0,
        receivedTotal: 0,
        announceErrors: 0,
        agentStatus: "online",
        agentStatusDetail: null,
      };
      this.byName.set(entry.hostname, entry);
      this.byId.set(entry.hostId, entry);
      this.changes?.added(entry);
      return entry;
    }
    const w = host as Writable;
    w.hardware = rec.hardware;
    w.version = rec.version;
    w.drained = rec.drained;
    w.drainReason = rec.drained ? (rec.drainReason ?? null) : null;
    w.hostKey = rec.hostKey ?? null;
    w.sessionGen = rec.sessionGen ?? 0;
    this.changes?.added(host);
    return host;
  }

  /**
   * Starts a new session for a known host; the previous session ends (its
   * key stops verifying). `connected`: whether its control channel is up now
   * (false for a session restored from the log: the agent has not connected
   * to this master yet).
   */
  attachSession(hostname: string, input: SessionInput, connected = true): HostEntry | undefined {
    const host = this.byName.get(hostname) as Writable | undefined;
    if (!host) return undefined;
    if (host.reportPort) this.byAddr.delete(addrKey(host.reportIp, host.reportPort));
    if (host.session) host.lostTotal += sessionLoss(host.session);
    host.reportIp = input.reportIp;
    host.reportPort = input.reportPort;
    host.session = { nonce: input.nonce, key: input.key, lastSeq: 0, firstSeq: 0, received: 0, receivedTcp: 0 };
    if (this.indexSources) this.byAddr.set(addrKey(host.reportIp, host.reportPort), host);
    this.setConnected(host, connected);
    return host;
  }

  /** The host's control channel to this master went up or down. */
  setConnected(h: HostEntry, connected: boolean): void {
    if (h.connected === connected) return;
    (h as Writable).connected = connected;
    this.changes?.changed(h);
  }

  /** An admin drained (with an optional reason) or resumed the host (an applied host.drain / host.resume). */
  setDrained(h: HostEntry, drained: boolean, reason: string | null = null): void {
    const w = h as Writable;
    w.drainReason = drained ? reason : null;
    if (h.drained === drained) return;
    w.drained = drained;
    this.changes?.changed(h);
  }

  /**
   * A report reached the host other than by ingest (on a follower, the
   * leader's MASTER_SYNC): the listener hears of each, as ingest's consumers
   * do of theirs.
   */
  reported(h: HostEntry): void {
    this.changes?.changed(h);
  }

  byHostId(id: number): HostEntry | undefined {
    return this.byId.get(id);
  }
  byHostname(name: string): HostEntry | undefined {
    return this.byName.get(name);
  }
  /** The host whose session reports from ip:port (only with indexSources; else undefined). */
  bySource(ip: string, port: number): HostEntry | undefined {
    return this.byAddr.get(addrKey(ip, port));
  }

  remove(hostname: string): boolean {
    const host = this.byName.get(hostname);
    if (!host) return false;
    this.byName.delete(hostname);
    this.byId.delete(host.hostId);
    this.byAddr.delete(addrKey(host.reportIp, host.reportPort));
    this.changes?.removed(host);
    return true;
  }

  /** Hosts sorted by name (stable output for ctl). */
  list(): HostEntry[] {
    return [...this.byName.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  }

  values(): IterableIterator<HostEntry> {
    return this.byName.values();
  }

}

/** Reports missing from a session so far: the span of seqs seen minus those received. */
export function sessionLoss(s: Session): number {
  if (s.received === 0) return 0;
  return Math.max(0, s.lastSeq - s.firstSeq + 1 - s.received);
}

/** Loss over the host's life, in reports and percent. */
export function hostLoss(h: HostEntry): { lost: number; received: number; pct: number } {
  const lost = h.lostTotal + (h.session ? sessionLoss(h.session) : 0);
  const received = h.receivedTotal;
  const pct = lost + received === 0 ? 0 : (100 * lost) / (lost + received);
  return { lost, received, pct };
}
