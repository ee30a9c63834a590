/** variantParser answers exactly what v.variant answers, by a lookup instead of a walk. */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { AgentMessageSchema, MasterMessageSchema } from "../../src/control/index.ts";
import { variantParser } from "../../src/control/variant.ts";
import { CommandSchema } from "../../src/store/index.ts";

const now = 1_800_000_000_000;
const inputs: unknown[] = [
  { type: "pong", ts: now },
  { type: "pong" },
  { type: "pong", ts: "x" },
  { type: "noop", at: now },
  { type: "token.create", at: now, actor: "admin", actorRole: "admin", jti: "a".repeat(32), role: "read", subject: "s", issuedAt: now },
  { type: "token.create", at: now, actor: "admin", actorRole: "root", jti: 1, role: "read", subject: "s", issuedAt: now },
  { type: "job_event", jobId: 1 },
  { type: "nope" },
  { type: 7 },
  { type: "constructor" },
  { type: "__proto__" },
  {},
  [],
  null,
  "pong",
  42,
];

describe("variantParser", () => {
  for (const [name, schema] of [["commands", CommandSchema], ["agent messages", AgentMessageSchema], ["master messages", MasterMessageSchema]] as const) {
    test(`${name}: the same success, output and issues as v.variant for valid, invalid and hostile input`, () => {
      const parse = variantParser(schema);
      for (const input of inputs) {
        const want = v.safeParse(schema, input);
        const got = parse(input);
        expect(got.success).toBe(want.success);
        if (want.success && got.success) expect(got.output).toEqual(want.output);
        if (!want.success && !got.success) expect(v.summarize(got.issues)).toBe(v.summarize(want.issues));
      }
    });
  }

  test("refuses a variant it cannot look up (a non-literal discriminator, or the same tag twice)", () => {
    expect(() => variantParser(v.variant("type", [v.object({ type: v.string() })]))).toThrow(/literal/);
    expect(() => variantParser(v.variant("type", [v.object({ type: v.literal("a") }), v.object({ type: v.literal("a"), x: v.number() })]))).toThrow(/two options/);
  });
});
