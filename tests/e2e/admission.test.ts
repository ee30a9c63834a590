/**
 * Reconnect-storm protection (design §4): upgrades beyond wsAdmitPerSec get
 * 503 + Retry-After, and agents learn the same wait from /healthz.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { admissionDelayMs } from "../../src/agent/agent.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
beforeAll(async () => {
  master = await TestMaster.start({ config: "master:\n  wsAdmitPerSec: 1\n" });
}, 20_000);
afterAll(() => teardown({ masters: [master] }));

const upgrade = () =>
  fetch(`http://${master.addr}/ws?token=${master.adminToken}`, {
    headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
  });

test("upgrades over the admission rate get 503 with Retry-After; /healthz tells agents the same wait", async () => {
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r = await upgrade();
    statuses.push(r.status);
    if (r.status === 503) retryAfter = r.headers.get("retry-after");
    await r.body?.cancel();
  }
  expect(statuses[0]).toBe(101);
  expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(3);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  const health = (await master.api<{ wsRetryAfterMs: number }>("/healthz", { token: null })).body;
  expect(health.wsRetryAfterMs).toBeGreaterThan(0);
  expect(health.wsRetryAfterMs).toBeLessThanOrEqual(1000);
  // The agent's reading of it: at least the wait, at most 1.5×.
  const [host, port] = master.addr.split(":");
  const d = await admissionDelayMs({ host: host!, port: Number(port) }, () => 0);
  expect(d).toBeGreaterThan(0);
  expect(d).toBeLessThanOrEqual(1000);
  expect(await admissionDelayMs({ host: "127.0.0.1", port: 1 }, () => 0)).toBe(0);
}, 15_000);
