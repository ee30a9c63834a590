/**
 * The leader's announces (design §2, §6): one round per announceInterval,
 * sent in slices every ANNOUNCE_SLICE_MS (the round is planned by the pure
 * announce.ts). Only the leader announces: agents follow the announces to it.
 */
import { logger } from "../log/index.ts";
import { announceFor, planRound, type AnnounceRound, type SignFn } from "./announce.ts";
import type { HostTable } from "./hosts/table.ts";

const log = logger("master");

const ANNOUNCE_SLICE_MS = 100;
/**
 * The first round after this master became leader goes out within
 * FIRST_ROUND_MS instead of over the whole interval: agents point their
 * reports here as soon as they hear it, so the new leader's live load is
 * complete one report interval after that.
 */
const FIRST_ROUND_MS = 500;

export interface AnnouncerDeps {
  hosts: HostTable;
  nodeId: number;
  /** This master's address, as agents should reach it (known once its HTTP port is bound). */
  addr(): string;
  announceIntervalSec: number;
  reportIntervalMs: number;
  isLeader(): boolean;
  term(): number;
  sign: SignFn;
  /** Sends one datagram; throws when the socket refuses (an agent's port closed). */
  send(bytes: Uint8Array, port: number, addr: string): void;
}

export class Announcer {
  private seq = 0;
  /** Announces whose send threw (counted per host too, HostEntry.announceErrors). */
  sendErrors = 0;
  private round: AnnounceRound | null = null;
  private slice = 0;
  private spread: number;
  private wasLeader = false;
  private readonly slices: number;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: AnnouncerDeps) {
    this.slices = Math.max(1, Math.round((deps.announceIntervalSec * 1000) / ANNOUNCE_SLICE_MS));
    this.spread = this.slices;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), Math.min(ANNOUNCE_SLICE_MS, this.deps.announceIntervalSec * 1000));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const d = this.deps;
    try {
      if (!d.isLeader()) {
        this.round = null;
        this.slice = 0;
        this.wasLeader = false;
        return;
      }
      if (this.slice === 0 || !this.round) {
        this.round = planRound(d.hosts.values(), { nodeId: d.nodeId, term: d.term(), addr: d.addr(), reportIntervalMs: d.reportIntervalMs }, ++this.seq);
        this.spread = this.wasLeader ? this.slices : Math.max(1, Math.min(this.slices, Math.round(FIRST_ROUND_MS / ANNOUNCE_SLICE_MS)));
        this.wasLeader = true;
      }
      const round = this.round;
      const per = Math.ceil(round.hosts.length / this.spread);
      for (const host of round.hosts.slice(this.slice * per, (this.slice + 1) * per)) {
        const bytes = announceFor(round, host, d.sign);
        if (!bytes) continue;
        // A stopped agent's closed port comes back as ECONNREFUSED on a later send, thrown
        // here: that host's problem, counted, never a reason to skip the rest of the slice.
        try {
          d.send(bytes, host.reportPort, host.reportIp);
        } catch (e) {
          host.announceErrors++;
          this.sendErrors++;
          log.debug(`announce to ${host.hostname} (${host.reportIp}:${host.reportPort}) failed: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      log.error("announce round failed", e);
    }
    this.slice = (this.slice + 1) % this.slices;
  }
}
