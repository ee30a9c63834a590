/**
 * Final `command_result`s that could not be sent (the channel was down when
 * they were produced): kept, oldest first, and sent after the next
 * registration (design §4: results produced while disconnected are
 * buffered, bounded). Pure.
 *
 * Bound: RESULTS_MAX results; past it the oldest is dropped. A result is
 * small (no output: that went out as `command_output` while it ran, or was
 * lost with the channel), so the bound is about a master that stays away
 * while someone keeps an old exec loop going, not about memory.
 */
import type { CommandResult } from "../../control/index.ts";

export const RESULTS_MAX = 100;

export class ResultQueue {
  private items: CommandResult[] = [];
  droppedTotal = 0;

  constructor(private readonly max = RESULTS_MAX) {}

  get size(): number {
    return this.items.length;
  }

  /** Keeps `r`; returns how many old results were dropped to make room. */
  push(r: CommandResult): number {
    this.items.push(r);
    let dropped = 0;
    while (this.items.length > this.max) {
      this.items.shift();
      dropped++;
    }
    this.droppedTotal += dropped;
    return dropped;
  }

  /** Offers each kept result to `send` in order; keeps the first that `send` refuses and all after it. Returns how many went. */
  flush(send: (r: CommandResult) => boolean): number {
    let sent = 0;
    while (this.items.length > 0 && send(this.items[0]!)) {
      this.items.shift();
      sent++;
    }
    return sent;
  }
}
