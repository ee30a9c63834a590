/**
 * The agent's plain HTTP calls to a master (besides the control channel,
 * which tests/e2e/tls.test.ts covers): the admission wait from /healthz and
 * the update_agent binary download go over https with agent.tls, and fail
 * without the CA.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admissionDelayMs } from "../../src/agent/agent.ts";
import { httpBase } from "../../src/agent/control.ts";
import { downloadTo } from "../../src/agent/update/index.ts";
import { clientTls } from "../../src/config/index.ts";
import { makeTestCa } from "../helpers/tls.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-agent-tls-"));
const pki = makeTestCa(dir);
const BINARY = new TextEncoder().encode("#!/bin/sh\necho new lava\n");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  tls: { cert: readFileSync(pki.server.cert, "utf8"), key: readFileSync(pki.server.key, "utf8") },
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return Response.json({ ok: true, wsRetryAfterMs: 1500 });
    if (path === "/api/v1/agent/binary") return new Response(BINARY);
    return new Response("not found", { status: 404 });
  },
});
const master = { host: "127.0.0.1", port: server.port!, scheme: "https" as const };
const tls = clientTls("agent", { ca: pki.ca, insecureSkipVerify: false });
afterAll(() => {
  void server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe("agent HTTP calls to a TLS master", () => {
  test("the admission wait is read over https with agent.tls.ca; without it the agent falls back to no extra wait", async () => {
    expect(await admissionDelayMs(master, () => 0, tls)).toBe(1500);
    expect(await admissionDelayMs(master, () => 0)).toBe(0);
  });

  test("the update download goes to https://master with agent.tls.ca; without the CA it fails saying why and leaves no file", async () => {
    const url = `${httpBase(master)}/api/v1/agent/binary`;
    expect(url).toBe(`https://127.0.0.1:${server.port}/api/v1/agent/binary`);
    const dest = join(dir, "lava.new");
    const got = await downloadTo(url, dest, { token: "t", tls });
    expect(got.bytes).toBe(BINARY.byteLength);
    expect(readFileSync(dest)).toEqual(Buffer.from(BINARY));
    const refused = join(dir, "lava.refused");
    await expect(downloadTo(url, refused, { token: "t" })).rejects.toThrow(`cannot download ${url}: unable to verify the first certificate`);
    expect(existsSync(refused)).toBe(false);
  });
});
