/**
 * The masters an agent knows: its configured list (agent.master), the
 * addresses it learns later (announces, not_leader, the membership a master
 * names in `registered`), which of them it trusts, and the order in which a
 * pass tries them. Pure.
 */
import { formatHostPort, parseHostPort, withScheme, type HostPort, type Scheme } from "../../control/index.ts";

export class MasterBook {
  private list: readonly HostPort[] = [];
  /** For addresses without a scheme: the configured list's (learnt addresses are bare host:port). */
  private scheme: Scheme = "http";
  /** "host:port" (lower case) of masters whose announces the agent follows: its own list, and what a master it registered with said. */
  private readonly trusted = new Set<string>();

  /** The configured list, schemes set. */
  get configured(): readonly HostPort[] {
    return this.list;
  }

  configure(masters: readonly HostPort[], scheme: Scheme): void {
    this.list = masters;
    this.scheme = scheme;
    for (const m of masters) this.trusted.add(trustKey(m));
  }

  /** An address a master gave us ("host:port"), with the list's scheme; null if malformed. */
  learnt(addr: string): HostPort | null {
    const hp = parseHostPort(addr);
    return hp ? withScheme(hp, this.scheme) : null;
  }

  /** Trusts the members a master named in `registered`. */
  trustAll(addrs: readonly string[]): void {
    for (const a of addrs) {
      const hp = this.learnt(a);
      if (hp) this.trusted.add(trustKey(hp));
    }
  }

  /**
   * Whether an announce naming `addr` as the leader may be followed. A copy
   * of a master's data dir started elsewhere holds the same secret and signs
   * valid announces: only masters of our own list or of the membership a
   * master told us are followed.
   */
  trusts(addr: string): boolean {
    const hp = this.learnt(addr);
    return hp !== null && this.trusted.has(trustKey(hp));
  }

  /** The order to try masters in: the announced leader first, then the configured list, each once. */
  candidates(leaderHint: HostPort | null): HostPort[] {
    const out: HostPort[] = [];
    const seen = new Set<string>();
    for (const m of leaderHint ? [leaderHint, ...this.list] : this.list) {
      const k = formatHostPort(m);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(m);
      }
    }
    return out;
  }
}

/** The identity of a master is its host:port, whatever its scheme. */
export const sameMaster = (a: HostPort | null, b: HostPort | null): boolean => a !== null && b !== null && formatHostPort(a) === formatHostPort(b);

const trustKey = (hp: HostPort) => formatHostPort(hp).toLowerCase();
