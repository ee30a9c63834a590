/**
 * Peer requests between masters prove the whole request (issue 11, item
 * 3): an attacker on the path between two compiled masters records a real
 * `/_raft/append` and sends it again, as it was and with another body; a
 * request signed with the cluster secret but older than the window is
 * sent too. Each is refused with 401 and a reason, and the follower's log
 * is unchanged by them.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { bodyHash, PEER_WINDOW_MS, PeerAuth } from "../../src/master/raft/peer-auth.ts";
import { freePorts, TestCluster } from "../helpers/masters.ts";
import { MasterLinks } from "../helpers/proxy.ts";
import { waitFor } from "../helpers/wait.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

interface RawRequest {
  head: string;
  body: Uint8Array;
}

/** Complete HTTP/1.1 requests in a recorded byte stream (one connection's). */
function requestsIn(bytes: Uint8Array): RawRequest[] {
  const out: RawRequest[] = [];
  const text = Buffer.from(bytes).toString("latin1");
  let at = 0;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return out;
    const head = text.slice(at, end);
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (end + 4 + len > bytes.length) return out;
    out.push({ head, body: bytes.slice(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
}

/** Sends raw bytes to 127.0.0.1:port and returns the status line and body of the answer. */
async function sendRaw(port: number, head: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  const fixed = head.replace(/\r\ncontent-length: *\d+/i, `\r\nContent-Length: ${body.length}`).replace(/\r\nconnection:[^\r]*/i, "") + "\r\nConnection: close";
  const chunks: Uint8Array[] = [];
  await new Promise<void>((resolve, reject) => {
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write(Buffer.concat([Buffer.from(`${fixed}\r\n\r\n`, "latin1"), body]));
        },
        data(_s, chunk) {
          chunks.push(new Uint8Array(chunk));
        },
        close() {
          resolve();
        },
        error(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
  const text = Buffer.concat(chunks).toString("utf8");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

test("a recorded /_raft/append is refused when replayed with the same body or another one, and a signed request older than the window is refused", async () => {
  const ports = await freePorts(3);
  const { links, peersOf } = MasterLinks.create(ports);
  cleanup.push(() => links.stop());
  const c = await TestCluster.start(3, { ports, peersOf });
  cleanup.push(async () => {
    await c.stop();
    c.cleanup();
  });
  const leader = await c.leader(8000);
  const l = c.masters.indexOf(leader) + 1;
  const f = l === 1 ? 2 : 1;
  const follower = c.masters[f - 1]!;

  // The attacker records what the leader sends the follower (heartbeats and appends go to /_raft/append).
  const streams = new Map<number, Uint8Array[]>();
  links.proxy(l, f).tap = (dir, chunk, conn) => {
    if (dir !== "forward") return;
    const list = streams.get(conn) ?? [];
    list.push(chunk);
    streams.set(conn, list);
  };
  const recorded = await waitFor(
    () => {
      for (const list of streams.values()) {
        const r = requestsIn(Buffer.concat(list)).find((q) => q.head.startsWith("POST /_raft/append ") && q.body.length > 2);
        if (r) return r;
      }
      return null;
    },
    5000,
    "a recorded /_raft/append",
  );
  links.proxy(l, f).tap = null;
  const before = await c.health(follower);

  const same = await sendRaw(follower.run.httpPort, recorded.head, recorded.body);
  expect(same.status).toBe(401);
  expect(same.text).toContain("replayed request");

  const msgs = JSON.parse(Buffer.from(recorded.body).toString()) as { commit?: number; term: number }[];
  for (const m of msgs) m.term += 1000; // a term bump that would depose the leader
  const other = await sendRaw(follower.run.httpPort, recorded.head, Buffer.from(JSON.stringify(msgs)));
  expect(other.status).toBe(401);
  expect(other.text).toContain("does not match");

  // Someone with the secret but a clock (or a delay) past the window: refused too, saying to check NTP.
  const secret = new Uint8Array(Buffer.from(readFileSync(c.secretFile, "utf8").trim(), "base64"));
  const stale = new PeerAuth(secret, () => Date.now() - PEER_WINDOW_MS - 2000);
  const body = "[]";
  const old = await fetch(`http://${follower.addr}/_raft/append`, { method: "POST", headers: stale.sign(l, leader.addr, "POST", "/_raft/append", bodyHash(body)).headers, body });
  expect(old.status).toBe(401);
  expect(((await old.json()) as { detail: string }).detail).toContain("check NTP");
  // The same request signed now is accepted: the refusals above are for replay and age, not for the format.
  const now = new PeerAuth(secret);
  const ok = await fetch(`http://${follower.addr}/_raft/append`, { method: "POST", headers: now.sign(l, leader.addr, "POST", "/_raft/append", bodyHash(body)).headers, body });
  expect(ok.status).toBe(204);

  // None of it moved the follower: same term, and it still follows the same leader.
  const after = await c.health(follower);
  expect(after!.term).toBe(before!.term);
  expect(after!.leader_id).toBe(l);
}, 60_000);
