/**
 * Datagrams on the report socket (MASTER_ANNs, design §2): judged by
 * announce.ts, counted by verdict, then checked against the masters the
 * agent trusts. An accepted announce moves the session's replay window and
 * sets the report interval here; what it means for the connection (a new
 * leader, a master that forgot this host) is the connection machine's to
 * decide, from the event take() returns.
 */
import { logger } from "../log/index.ts";
import { judgeAnnounce, type AnnounceRejection } from "./announce.ts";
import type { ConnectionEvent } from "./connection/index.ts";
import type { Reporter } from "./reporter.ts";

const log = logger("agent");

export class AnnounceIntake {
  accepted = 0;
  /** Datagrams that were not an acceptable announce, by reason. */
  readonly rejected: Partial<Record<AnnounceRejection, number>> = {};
  private readonly insecure: boolean;

  constructor(insecure: boolean) {
    this.insecure = insecure;
  }

  /** Judges one datagram; the event for the connection machine if it is an announce to follow, else null. */
  take(buf: Uint8Array, from: { address: string; port: number }, reporter: Pick<Reporter, "session" | "intervalMs" | "setIntervalMs">, trusts: (leaderAddr: string) => boolean): ConnectionEvent | null {
    const s = reporter.session;
    const verdict = judgeAnnounce(buf, s, this.insecure);
    if (!verdict.ok) {
      this.reject(verdict.reason);
      log.debug(`ignored a datagram from ${from.address}:${from.port}: ${verdict.reason}`);
      return null;
    }
    const a = verdict.announce;
    // A copy of a master's data dir started elsewhere holds the same secret and signs valid
    // announces: follow only masters of our own list or of the membership a master told us.
    if (!this.insecure && !trusts(a.leaderAddr)) {
      this.reject("untrusted_leader");
      log.debug(`ignored an announce from ${from.address}:${from.port} naming ${a.leaderAddr}, which is not a known master`);
      return null;
    }
    this.accepted++;
    if (s && verdict.seq !== null) {
      if (a.term > s.lastAnnounceTerm) {
        s.lastAnnounceTerm = a.term;
        s.lastAnnounceSeq = verdict.seq;
      } else s.lastAnnounceSeq = Math.max(s.lastAnnounceSeq, verdict.seq);
    }
    if (a.reportIntervalMs !== reporter.intervalMs) {
      log.info(`master asks for a report every ${a.reportIntervalMs / 1000} s (was ${reporter.intervalMs / 1000} s)`);
      reporter.setIntervalMs(a.reportIntervalMs);
    }
    return { type: "announce", leaderAddr: a.leaderAddr, membership: verdict.membership, from: { ip: from.address, port: from.port }, reportTarget: s ? { ...s.target } : null };
  }

  private reject(reason: AnnounceRejection): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }
}
