/**
 * followSpreadMs in `registered` and `ping` (src/control/messages.ts): an
 * optional field, bounded by the schema, so that whatever a master (or
 * anything that speaks for one) sends, the agent takes a number it can use
 * or refuses the message.
 */
import { describe, expect, test } from "bun:test";
import { MasterMessageSchema, parseMessage } from "../../src/control/index.ts";

const registered = (extra: object) => JSON.stringify({ type: "registered", hostId: 7, sessionKey: "a".repeat(44), reportIntervalMs: 4000, udpPort: 6879, ...extra });
const ping = (extra: object) => JSON.stringify({ type: "ping", ts: 1, ...extra });

describe("followSpreadMs", () => {
  for (const [name, make] of [["registered", registered], ["ping", ping]] as const) {
    test(`${name}: absent (an older master) or 0–3,600,000 ms is taken`, () => {
      for (const extra of [{}, { followSpreadMs: 0 }, { followSpreadMs: 6250 }, { followSpreadMs: 3_600_000 }]) {
        const r = parseMessage(MasterMessageSchema, make(extra));
        expect(r.ok).toBe(true);
        if (r.ok) expect((r.message as { followSpreadMs?: number }).followSpreadMs).toBe((extra as { followSpreadMs?: number }).followSpreadMs);
      }
    });

    test(`${name}: negative, fractional, huge or not a number is refused`, () => {
      for (const bad of [-1, 0.5, 3_600_001, 1e308, "6250", null]) expect(parseMessage(MasterMessageSchema, make({ followSpreadMs: bad })).ok).toBe(false);
    });
  }
});
