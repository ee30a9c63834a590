/**
 * Control-channel messages (design §4), one valibot schema each. Both ends
 * parse every incoming message with `parseMessage`; types come from the
 * schemas. Bounds on every string and array keep a hostile peer from making
 * either side allocate without limit.
 */
import * as v from "valibot";

/** Largest control message either side accepts, in bytes of JSON text. */
export const MAX_MESSAGE_BYTES = 1 << 20;

const hostname = v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "hostname: letters, digits, '.', '_' and '-' only"));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

export const HardwareSchema = v.object({
  ncpus: v.pipe(count, v.minValue(1), v.maxValue(1 << 16)),
  memBytes: v.pipe(count, v.maxValue(2 ** 53)),
  gpus: v.optional(v.pipe(count, v.maxValue(1024)), 0),
  os: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

// ---- agent → master
export const RegisterSchema = v.object({
  type: v.literal("register"),
  hostname,
  hardware: HardwareSchema,
  reportPort: v.pipe(count, v.minValue(1), v.maxValue(65535)),
  version: v.pipe(v.string(), v.maxLength(100)),
});
export const PongSchema = v.object({ type: v.literal("pong"), ts: v.optional(v.number()) });

export const AgentMessageSchema = v.variant("type", [RegisterSchema, PongSchema]);

// ---- master → agent
export const RegisteredSchema = v.object({
  type: v.literal("registered"),
  hostId: v.pipe(count, v.minValue(1), v.maxValue(0xffffffff)),
  sessionKey: v.pipe(v.string(), v.base64()),
  reportIntervalMs: v.pipe(count, v.minValue(100)),
  udpPort: v.pipe(count, v.minValue(1), v.maxValue(65535)),
});
export const PingSchema = v.object({ type: v.literal("ping"), ts: v.number() });
export const ErrorSchema = v.object({ type: v.literal("error"), error: v.string(), detail: v.optional(v.string()), requestId: v.optional(v.string()) });

export const MasterMessageSchema = v.variant("type", [RegisteredSchema, PingSchema, ErrorSchema]);

export type Hardware = v.InferOutput<typeof HardwareSchema>;
export type Register = v.InferOutput<typeof RegisterSchema>;
export type Registered = v.InferOutput<typeof RegisteredSchema>;
export type AgentMessage = v.InferOutput<typeof AgentMessageSchema>;
export type MasterMessage = v.InferOutput<typeof MasterMessageSchema>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string; detail: string };

/** Parses one text frame against a message union; never throws. */
export function parseMessage<S extends v.GenericSchema>(schema: S, text: string | Buffer | ArrayBuffer | Uint8Array): ParseResult<v.InferOutput<S>> {
  const str = typeof text === "string" ? text : new TextDecoder().decode(text as Uint8Array);
  if (str.length > MAX_MESSAGE_BYTES) return { ok: false, error: "too_large", detail: `message over ${MAX_MESSAGE_BYTES} bytes` };
  let data: unknown;
  try {
    data = JSON.parse(str);
  } catch {
    return { ok: false, error: "bad_json", detail: "message is not valid JSON" };
  }
  const r = v.safeParse(schema, data);
  if (!r.success) return { ok: false, error: "bad_message", detail: v.summarize(r.issues).slice(0, 500) };
  return { ok: true, message: r.output };
}
