/**
 * The master's state machine behind the Raft driver: a committed entry is
 * a JSON command (src/store/commands.ts) applied to SQLite inside the
 * Ready's transaction (src/store/apply.ts).
 */
import type { Entry } from "../../raft/types.ts";
import { applyEntry, parseCommand, type Applied, type OpenedStore } from "../../store/index.ts";
import { logger } from "../../log/index.ts";
import type { StateMachine } from "./driver.ts";

const log = logger("raft");

export function sqliteStateMachine(store: OpenedStore): StateMachine<Applied> {
  return {
    apply(e: Entry): Applied | null {
      if (e.data === "") return null; // a new leader's no-op
      let cmd;
      try {
        cmd = parseCommand(e.data);
      } catch (err) {
        // Deterministic on every replica: a command this version cannot read is skipped alike everywhere.
        log.error(`log entry ${e.index} is not a command this version understands (${(err as Error).message}); skipped`);
        return null;
      }
      return { idx: e.index, cmd, result: applyEntry(store.db, e.index, cmd) };
    },
  };
}
