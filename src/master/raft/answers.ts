/**
 * Where a driver's outgoing messages go. While a peer's request is being
 * handled, what this master has to say to that peer rides back on the
 * response (for an append: the follower's acknowledgement, on the path
 * every write waits for); everything else goes out through the transport.
 * Shared by the master (replication.ts) and the driver-level simulation.
 */
import type { Message } from "../../raft/types.ts";

export class AnswerRouter {
  /** While a peer's request is being handled: its answers, to go back on the response. */
  private capture: { to: number; out: Message[] } | null = null;

  constructor(
    private readonly selfId: number,
    /** The transport: messages that go out as requests of their own. */
    private readonly send: (msgs: Message[]) => void,
  ) {}

  /** The driver's send hook. */
  route(msgs: Message[]): void {
    const c = this.capture;
    if (!c) {
      this.send(msgs);
      return;
    }
    const rest: Message[] = [];
    for (const m of msgs) (m.to === c.to && m.type !== "snapshot" ? c.out : rest).push(m);
    if (rest.length > 0) this.send(rest);
  }

  /**
   * Hands `from`'s messages addressed to this master to `stepAndDrain`
   * (which steps them and persists the outcome before returning) and
   * returns what this master answers `from`. Misrouted or forged messages
   * (another sender or recipient) are ignored.
   */
  answer(from: number, msgs: Message[], stepAndDrain: (mine: Message[]) => void): Message[] {
    const mine = msgs.filter((m) => m.from === from && m.to === this.selfId);
    if (mine.length === 0) return [];
    this.capture = { to: from, out: [] };
    try {
      stepAndDrain(mine);
      return this.capture.out;
    } finally {
      this.capture = null;
    }
  }
}
