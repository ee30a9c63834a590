/**
 * Fuzzing the control channel of the compiled master: 10,000 malformed,
 * oversized, wrong-typed and out-of-order messages from raw WebSocket
 * clients (seeded, LAVA_FUZZ_SEED to replay), while a real agent stays
 * connected. The master must stay up, answer every bad message with an
 * `error` (an oversized frame closes that connection instead: the
 * WebSocket limit), drop and count answers to requests it never made, and
 * the well-behaved agent must keep reporting and answer an exec correctly.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { seededRng } from "../helpers/rng.ts";
import { waitFor } from "../helpers/wait.ts";
import { AgentMessageSchema, parseMessage } from "../../src/control/index.ts";
import { newHostKey, signedRegister } from "../helpers/host-key.ts";
import type { HostKey } from "../../src/auth/index.ts";
import { teardown } from "../helpers/teardown.ts";

const SEED = Number(process.env.LAVA_FUZZ_SEED ?? 20261201);
const MESSAGES = 10_000;
const MIB = 1 << 20;

let master: TestMaster;
let good: Proc;
const work = tempDir("lava-fuzz-");

type Row = Record<string, unknown>;

beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
  const cfg = join(work, "agent.yaml");
  await Bun.write(cfg, "agent:\n  exec:\n    allow: [/bin/echo]\n");
  good = startAgent(master, { hostname: "good", procRoot: writeProcFixture(join(work, "proc")), args: ["--config", cfg] });
  await waitFor(async () => (await master.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "good" && h.load1 !== null), 15_000, "the good agent reporting");
}, 30_000);

afterAll(() => teardown({ clients: [good], masters: [master], work }));

/** One raw connection: counts the `error` answers it gets. */
class Fuzzer {
  errors = 0;
  closed = false;
  closeCode = 0;
  registered = false;
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Row;
      if (m.type === "error") this.errors++;
      if (m.type === "registered") this.registered = true;
      if (m.type === "ping") ws.send(JSON.stringify({ type: "pong", ts: m.ts }));
    };
    ws.onclose = (e) => {
      this.closed = true;
      this.closeCode = e.code;
    };
  }
  static async open(): Promise<Fuzzer> {
    const ws = new WebSocket(`ws://${master.addr}/ws`, { headers: { authorization: `Bearer ${master.adminToken}` } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("fuzz client: WebSocket error"));
    });
    return new Fuzzer(ws);
  }
}

type Case = { data: string | Uint8Array; kind: string };

/**
 * What the master must do with one message, from the wire contract itself
 * (src/control/messages.ts is the schema both ends parse with): anything
 * that does not parse, or anything but register/pong before registering,
 * is answered with an error; a well-formed answer to a request nobody made
 * is dropped and counted.
 */
function oracle(data: string | Uint8Array, registered: boolean): { error: boolean; unknownAnswer: boolean; registers: boolean } {
  const p = parseMessage(AgentMessageSchema, data);
  if (!p.ok) return { error: true, unknownAnswer: false, registers: false };
  const t = p.message.type;
  if (t === "register") return { error: false, unknownAnswer: false, registers: true };
  if (t === "pong") return { error: false, unknownAnswer: false, registers: false };
  if (!registered) return { error: true, unknownAnswer: false, registers: false };
  const routed = t === "command_output" || t === "command_result" || t === "log_line" || t === "logs_end" || (t === "health" && p.message.requestId !== undefined);
  return { error: false, unknownAnswer: routed, registers: false };
}

function generator(rng: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const int = (n: number) => Math.floor(rng() * n);
  const str = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join("");
  const weird = (): unknown => pick([null, true, -1, 1e308, "x", [], {}, [1, 2], { a: 1 }, str(5), -0.5, 2 ** 60]);
  const TYPES = ["register", "pong", "job_event", "status", "command_output", "command_result", "health", "alert", "log_line", "logs_end"];
  const answers: Record<string, () => Row> = {
    command_output: () => ({ type: "command_output", requestId: `fz-${int(1e9)}`, stream: pick(["stdout", "stderr"]), data: str(int(100)) }),
    command_result: () => ({ type: "command_result", requestId: `fz-${int(1e9)}`, status: pick(["ok", "refused", "failed", "timeout"]), exitCode: int(3) }),
    log_line: () => ({ type: "log_line", requestId: `fz-${int(1e9)}`, line: str(int(80)) }),
    logs_end: () => ({ type: "logs_end", requestId: `fz-${int(1e9)}` }),
    health: () => ({ type: "health", requestId: `fz-${int(1e9)}`, at: Date.now(), checks: { disk: { status: "ok", detail: "" } } }),
    alert: () => ({ type: "alert", id: `a${int(1000)}`, rule: "r", severity: pick(["info", "warning", "critical"]), state: pick(["firing", "resolved"]), message: str(10), at: Date.now() }),
    job_event: () => ({ type: "job_event", eventId: `e${int(1e9)}`, jobId: 1 + int(1e6), attempt: 1, event: "finished", at: Date.now(), state: "DONE", exitCode: 0 }),
  };
  return (registered: boolean): Case => {
    const r = rng();
    if (r < 0.15) return { data: rng() < 0.5 ? str(1 + int(200)) + "{" : crypto.getRandomValues(new Uint8Array(1 + int(300))), kind: "bad_json" };
    if (r < 0.3) return { data: JSON.stringify(pick([weird(), { type: str(6) }, { type: pick(TYPES).toUpperCase() }, { kind: "register" }, [{ type: "pong" }]])), kind: "bad_shape" };
    if (r < 0.68) {
      // A known type with one field of the wrong type, or missing.
      const base = registered ? answers[pick(Object.keys(answers))]!() : { type: "register", hostname: "fz-x", hardware: { ncpus: 1, memBytes: 1 }, reportPort: 1, version: "x" };
      const k = pick(Object.keys(base).filter((x) => x !== "type"));
      if (rng() < 0.2) delete (base as Row)[k];
      else (base as Row)[k] = pick(typeof (base as Row)[k] === "string" ? [1, null, [], {}, true] : ["x", null, [], {}, -1.5, 1e400]);
      return { data: JSON.stringify(base), kind: "wrong_type" };
    }
    if (r < 0.7) {
      // Huge arrays and records, under the frame limit: the schemas' bounds hold (2 %: they cost time, not coverage).
      const data = pick([
        () => JSON.stringify({ type: "status", jobs: Array.from({ length: 60_000 }, () => ({ jobId: 1 })) }),
        () => JSON.stringify({ type: "health", at: 1, checks: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`c${i}`, { status: "ok", detail: "" }])) }),
        () => JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i)),
        () => JSON.stringify({ type: "register", hostname: Array.from({ length: 50_000 }, () => "a"), hardware: {}, reportPort: 1, version: "x" }),
        () => JSON.stringify({ type: "command_output", requestId: "x", stream: "stdout", data: "y".repeat(300 * 1024) }),
      ])();
      return { data, kind: "huge" };
    }
    // Answers and reports: out of order before `register`, for requests nobody made after it.
    return { data: JSON.stringify(answers[pick(Object.keys(answers))]!()), kind: registered ? "unknown_request" : "before_register" };
  };
}

/** Each fuzz host name keeps its host key (a second key for a known name is refused). */
const fuzzKeys = new Map<string, HostKey>();

const metric = async (pattern: RegExp): Promise<number> => Number(pattern.exec((await master.api<string>("/metrics")).body)?.[1] ?? NaN);
const UNKNOWN = /lava_agent_requests_total\{outcome="unknown"\} (\d+)/;

describe("control channel fuzz", () => {
  test(`${MESSAGES} bad messages (seed ${SEED}): the master stays up, answers each with an error, and the good agent is unaffected`, async () => {
    const rng = seededRng(SEED);
    const next = generator(rng);
    const reportsBefore = (await master.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "good")!.reportsReceived as number;
    const unknownBefore = await metric(UNKNOWN);
    let fz = await Fuzzer.open();
    let expected = 0;
    let unknownSent = 0;
    let oversized = 0;
    const kinds: Record<string, number> = {};
    const settle = async () => {
      const want = expected;
      const f = fz;
      await waitFor(() => f.errors >= want || f.closed, 10_000, `${want} error answers (got ${f.errors})`);
      expect(f.errors).toBe(want);
    };
    const reconnect = async (registerAs: string | null) => {
      fz = await Fuzzer.open();
      expected = 0;
      if (registerAs) {
        const key = fuzzKeys.get(registerAs) ?? (await newHostKey());
        fuzzKeys.set(registerAs, key);
        fz.ws.send(JSON.stringify(await signedRegister({ hostname: registerAs, hardware: { ncpus: 1, memBytes: 1e9, gpus: 0 }, reportPort: 40000 + Math.floor(rng() * 1000), version: "fuzz" }, key, master.adminToken)));
        await waitFor(() => fz.registered, 5000, "fuzz client registered");
      }
    };

    for (let i = 0; i < MESSAGES; i++) {
      // Every 1000 messages: a frame over 1 MiB (the connection is closed for it) and a new connection,
      // half of the time registered (so answers to unknown requests are exercised too).
      if (i % 1000 === 999) {
        await settle();
        fz.ws.send("x".repeat(MIB + 1 + Math.floor(rng() * 1000)));
        oversized++;
        await waitFor(() => fz.closed, 5000, "the oversized frame closing the connection");
        expect(fz.closeCode).not.toBe(1000);
        await reconnect(rng() < 0.5 ? `fz-${Math.floor(rng() * 3)}` : null);
        continue;
      }
      const c = next(fz.registered);
      const o = oracle(c.data, fz.registered);
      if (o.registers) {
        i--; // a register that happens to be valid would change what follows: draw again
        continue;
      }
      kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
      fz.ws.send(c.data);
      if (o.error) expected++;
      if (o.unknownAnswer) unknownSent++;
      if (i % 200 === 0) await settle();
    }
    await settle();
    expect(oversized).toBe(10);
    expect(Object.keys(kinds).sort()).toEqual(["bad_json", "bad_shape", "before_register", "huge", "unknown_request", "wrong_type"]);
    // Answers to requests the master never made were dropped and counted, none delivered anywhere.
    await waitFor(async () => (await metric(UNKNOWN)) - unknownBefore >= unknownSent, 10_000, `${unknownSent} unknown answers counted`);

    // The master is up, and the good agent kept reporting and answers an exec.
    expect((await master.api<Row>("/healthz")).body.ok).toBe(true);
    expect(master.proc.proc.exitCode).toBeNull();
    await waitFor(async () => ((await master.api<Row[]>("/api/v1/load")).body.find((h) => h.host === "good")!.reportsReceived as number) > reportsBefore + 1, 10_000, "good's reports still accepted");
    const r = await runLava(["ctl", "exec", "--hosts", "good", "--", "/bin/echo", "still", "fine"], { env: { LAVA_MASTER: master.addr, LAVA_TOKEN: master.adminToken } });
    expect(r.stdout).toBe("good: still fine\n");
    expect(r.code).toBe(0);
    fz.ws.close();
  }, 120_000);
});
