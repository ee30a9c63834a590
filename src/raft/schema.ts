/**
 * What a peer's Raft message may look like on the wire (the HTTP
 * transport checks every incoming one with parseRaftMessage before the
 * core sees it). Bounded: a message carries at most MAX_ENTRIES_PER_MESSAGE
 * entries, and every string and list has a ceiling, so one bad peer cannot
 * make a master allocate without limit.
 *
 * Unknown keys are dropped rather than refused (v.object, not
 * strictObject): a newer master may add a field during a rolling upgrade.
 */
import * as v from "valibot";
import { MAX_CONF_CONTEXT_CHARS, MAX_NODE_ID } from "./confchange.ts";
import { MESSAGE_TYPES } from "./checks.ts";
import { MAX_READ_CONTEXT_CHARS } from "./node.ts";
import type { Message } from "./types.ts";

export const MAX_ENTRIES_PER_MESSAGE = 1000;
/** One entry's data (a lava command: a job with its argv and environment, an audit record). */
export const MAX_ENTRY_DATA_CHARS = 1 << 20;
/** All entries' data in one message together. */
export const MAX_MESSAGE_DATA_CHARS = 16 << 20;
/** Voters in a snapshot's configuration (lava runs 1, 3 or 5 masters). */
export const MAX_VOTERS = 255;

const nat = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const nodeId = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_NODE_ID));

const EntrySchema = v.object({
  index: v.pipe(nat, v.minValue(1)),
  term: nat,
  type: v.picklist(["normal", "conf"]),
  data: v.pipe(v.string(), v.maxLength(MAX_ENTRY_DATA_CHARS)),
});

const SnapshotSchema = v.object({
  meta: v.object({
    index: nat,
    term: nat,
    confState: v.object({ voters: v.pipe(v.array(nodeId), v.maxLength(MAX_VOTERS)) }),
  }),
  // The state itself travels beside the message (lava streams the database); opaque here.
  data: v.optional(v.unknown()),
});



export const MessageSchema = v.pipe(
  v.object({
    type: v.picklist(MESSAGE_TYPES),
    from: nodeId,
    to: nodeId,
    term: nat,
    index: v.optional(nat),
    logTerm: v.optional(nat),
    entries: v.optional(v.pipe(v.array(EntrySchema), v.maxLength(MAX_ENTRIES_PER_MESSAGE))),
    commit: v.optional(nat),
    reject: v.optional(v.boolean()),
    rejectHint: v.optional(nat),
    context: v.optional(v.pipe(v.string(), v.maxLength(Math.max(MAX_READ_CONTEXT_CHARS, MAX_CONF_CONTEXT_CHARS)))),
    snapshot: v.optional(SnapshotSchema),
  }),
  v.check((m) => m.from !== m.to, "a message from a node to itself"),
  v.check((m) => m.type !== "snapshot" || m.snapshot !== undefined, "a snapshot message without its snapshot"),
  v.check((m) => {
    const ents = m.entries;
    if (!ents || ents.length === 0) return true;
    if (m.index === undefined) return false;
    let chars = 0;
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k]!;
      if (e.index !== m.index + 1 + k || e.term > m.term) return false;
      chars += e.data.length;
    }
    return chars <= MAX_MESSAGE_DATA_CHARS;
  }, `entries must follow the message's index one by one, carry no term past the message's, and hold at most ${MAX_MESSAGE_DATA_CHARS} characters of data`),
);

// The schema's output must be a Message, so that what it accepts can be stepped as is.
type SchemaOutput = v.InferOutput<typeof MessageSchema>;
const _outputIsMessage = (m: SchemaOutput): Message => m;
void _outputIsMessage;

export type ParsedMessage = { ok: true; message: Message } | { ok: false; detail: string };

/** Checks a peer's message; `detail` says what was wrong, for the transport's 400 answer. */
export function parseRaftMessage(input: unknown): ParsedMessage {
  const r = v.safeParse(MessageSchema, input);
  if (!r.success) return { ok: false, detail: `bad Raft message: ${v.summarize(r.issues)}` };
  return { ok: true, message: r.output };
}
