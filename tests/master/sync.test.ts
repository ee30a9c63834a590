/**
 * MASTER_SYNC between masters, in process: the leader's source, the
 * follower's sink, and the stream that carries batches between them (with
 * a fake post and clock). The sink is also attacked: replayed, reordered,
 * forged-sender and wrong-term batches.
 */
import { describe, expect, spyOn, test } from "bun:test";
import { HostTable } from "../../src/master/hosts/table.ts";
import { shownState } from "../../src/master/hosts/status.ts";
import { loadView } from "../../src/master/views.ts";
import { SyncSink, SyncSource, SyncStream, takeOver, forgetElsewhere, HANDOVER_GRACE_MS, SYNC_KEEPALIVE_MS, SYNC_QUEUE_BATCHES_MAX, type PostResult, type SyncPeer } from "../../src/master/sync/index.ts";
import { decodeDatagram, splitFrames, type DecodedSync, type LoadReport } from "../../src/wire/index.ts";

const R = (load1: number): LoadReport => ({ load1, load5: 1, load15: 1, memUsed: 1e9, memFree: 3e9, swapUsed: 0, swapFree: 0, ncpus: 8, cpuUser: 10, cpuSys: 5, cpuIdle: 85, jobsRunning: 0, jobsPending: 0, procsTotal: 100, flags: 0 });
const POLICY = { reportIntervalMs: 1000, busy: { loadPerCpu: 1.5, cpuPercent: 95, memPercent: 95 } };

/** A table with hosts 1..n registered (as the Raft log gives every master), each with a session. */
function table(n: number): HostTable {
  const t = new HostTable();
  for (let i = 1; i <= n; i++) {
    t.upsert({ hostId: i, hostname: `h${String(i).padStart(5, "0")}`, hardware: { ncpus: 8, memBytes: 4e9, gpus: 0 }, version: "t", registeredAtMs: 0, drained: false });
    t.attachSession(`h${String(i).padStart(5, "0")}`, { reportIp: "10.0.0.1", reportPort: 1000 + i, nonce: `nonce-${i}`, key: new Uint8Array(32) }, false);
  }
  return t;
}

/** The leader's view of host i: a report at `at`, seq, channel up. */
function report(t: HostTable, i: number, at: number, load1 = i / 10, seq = 5) {
  const h = t.byHostId(i)!;
  h.report = R(load1);
  h.lastReportMs = at;
  h.session!.lastSeq = seq;
  h.session!.firstSeq = 1;
  h.session!.received = seq;
  h.receivedTotal = seq;
  t.setConnected(h, true);
}

const decode = (datagrams: Uint8Array[]): DecodedSync[] =>
  datagrams.map((b) => {
    const d = decodeDatagram(b);
    if (!d.ok || d.op !== 12) throw new Error(JSON.stringify(d));
    return d.sync;
  });

const LEADER = { id: 1, term: 4 };

describe("source → sink", () => {
  test("a full batch gives the follower every host's load, age, seq, loss and channel", () => {
    const lead = table(20);
    for (let i = 1; i <= 20; i++) report(lead, i, 10_000 - i * 10, i / 10, 40 + i);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const b = src.next(10_000)!;
    expect(b.full().length).toBe(3); // 20 records, 7 per datagram
    const follower = table(20);
    const sink = new SyncSink(follower);
    // The follower's clock is 500 ms ahead: ages carry over, absolute times do not.
    expect(sink.accept(decode(b.full()), 1, LEADER, 10_500)).toEqual({ ok: true, records: 20, unknown: 0, skipped: 0 });
    for (let i = 1; i <= 20; i++) {
      const l = loadView(lead.byHostId(i)!, 10_000, POLICY);
      const f = loadView(follower.byHostId(i)!, 10_500, POLICY);
      expect(f).toEqual(l);
      expect(follower.byHostId(i)!.session!.lastSeq).toBe(40 + i);
      expect(follower.byHostId(i)!.connected).toBe(false);
      expect(shownState(follower.byHostId(i)!, 10_500, POLICY)).toBe("ok");
    }
    expect(sink.freshness(1, 4, 10_700)).toEqual({ nodeId: 1, ageMs: 200 });
  });

  test("deltas carry only the hosts touched; an empty batch is one datagram", () => {
    const lead = table(10);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const follower = table(10);
    const sink = new SyncSink(follower);
    expect(sink.accept(decode(src.next(0)!.full()), 1, LEADER, 0).ok).toBe(true);
    report(lead, 3, 100, 2.5);
    src.touch(3);
    const b = src.next(150)!;
    expect(b.changed).toBe(1);
    expect(sink.accept(decode(b.delta), 1, LEADER, 150).ok).toBe(true);
    expect(follower.byHostId(3)!.report!.load1).toBe(2.5);
    expect(follower.byHostId(3)!.lastReportMs).toBe(100);
    expect(follower.byHostId(4)!.report).toBeNull();
    const empty = src.next(200)!;
    expect(empty.changed).toBe(0);
    expect(empty.delta.length).toBe(1);
    expect(sink.accept(decode(empty.delta), 1, LEADER, 200)).toEqual({ ok: true, records: 0, unknown: 0, skipped: 0 });
  });

  test("a record for a host this master does not know yet is counted, not applied", () => {
    const lead = table(3);
    report(lead, 3, 0);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const sink = new SyncSink(table(2));
    expect(sink.accept(decode(src.next(0)!.full()), 1, LEADER, 0)).toEqual({ ok: true, records: 2, unknown: 1, skipped: 0 });
  });

  test("a seq is applied only to the session it belongs to", () => {
    const lead = table(1);
    report(lead, 1, 0, 1, 900);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const follower = table(1);
    // The follower already applied a newer registration (another nonce): the old session's seq must not stick to it.
    follower.attachSession("h00001", { reportIp: "10.0.0.1", reportPort: 9, nonce: "newer", key: new Uint8Array(32) });
    new SyncSink(follower).accept(decode(src.next(0)!.full()), 1, LEADER, 0);
    expect(follower.byHostId(1)!.session!.lastSeq).toBe(0);
    expect(follower.byHostId(1)!.report!.load1).toBe(1);
  });
});

describe("sink ordering (attacks: replay, reorder, forged sender, stale leader)", () => {
  function stream(n = 3) {
    const lead = table(n);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const sink = new SyncSink(table(n));
    return { lead, src, sink };
  }

  test("the first batch from a leader must be full", () => {
    const { src, sink } = stream();
    const v = sink.accept(decode(src.next(0)!.delta), 1, LEADER, 0);
    expect(v.ok ? null : v.error).toBe("need_full");
  });

  test("a gap asks for the full table; a replayed batch is skipped", () => {
    const { lead, src, sink } = stream();
    const b1 = src.next(0)!;
    expect(sink.accept(decode(b1.full()), 1, LEADER, 0).ok).toBe(true);
    const b2 = src.next(10)!;
    report(lead, 1, 15, 9);
    src.touch(1);
    const b3 = src.next(20)!;
    const gap = sink.accept(decode(b3.delta), 1, LEADER, 20);
    expect(gap.ok ? null : gap.error).toBe("need_full");
    expect(sink.accept(decode(b2.delta), 1, LEADER, 20).ok).toBe(true);
    expect(sink.accept(decode(b3.delta), 1, LEADER, 20).ok).toBe(true);
    // A captured old batch sent again changes nothing.
    const lead1 = lead.byHostId(1)!;
    lead1.report = R(0.01);
    const replay = sink.accept(decode(b3.delta), 1, LEADER, 30);
    expect(replay).toEqual({ ok: true, records: 0, unknown: 0, skipped: 1 });
    expect(sink.counters.skipped).toBe(1);
  });

  test("only the leader this master follows, in its term, is heard", () => {
    const { src, sink } = stream();
    const full = decode(src.next(0)!.full());
    const old = sink.accept(full, 1, { id: 1, term: 5 }, 0);
    expect(old.ok ? null : old.error).toBe("not_leader");
    const other = sink.accept(full, 1, { id: 2, term: 4 }, 0);
    expect(other.ok ? null : other.error).toBe("not_leader");
    expect(sink.freshness(1, 4, 0)).toBeNull();
  });

  test("a peer cannot send batches in another master's name", () => {
    const { src, sink } = stream();
    const v = sink.accept(decode(src.next(0)!.full()), 2, LEADER, 0);
    expect(v.ok ? null : v.error).toBe("bad_request");
  });

  test("a batch cut short (its last datagram missing) is refused", () => {
    const { src, sink } = stream(20);
    const full = decode(src.next(0)!.full());
    const v = sink.accept(full.slice(0, 2), 1, LEADER, 0);
    expect(v.ok ? null : v.error).toBe("bad_request");
  });

  test("after a leadership change the stream starts over with a full batch", () => {
    const { src, sink } = stream();
    expect(sink.accept(decode(src.next(0)!.full()), 1, LEADER, 0).ok).toBe(true);
    sink.reset();
    const v = sink.accept(decode(src.next(10)!.delta), 1, LEADER, 10);
    expect(v.ok ? null : v.error).toBe("need_full");
  });
});

describe("failover", () => {
  test("a new leader shows hosts whose channel was up at the old one as connected for the grace, then unreach", () => {
    const lead = table(2);
    report(lead, 1, 0);
    report(lead, 2, 0);
    lead.setConnected(lead.byHostId(2)!, false);
    const src = new SyncSource(lead, 1);
    src.start(4);
    const next = table(2);
    new SyncSink(next).accept(decode(src.next(0)!.full()), 1, LEADER, 0);
    expect(takeOver(next, 100)).toBe(1);
    const h1 = next.byHostId(1)!;
    // Reports keep coming (the agents follow the announce at once); the channel takes up to reconnectMin.
    h1.lastReportMs = HANDOVER_GRACE_MS;
    expect(shownState(h1, 100, POLICY)).toBe("ok");
    expect(shownState(next.byHostId(2)!, 100, POLICY)).toBe("unreach");
    expect(shownState(h1, HANDOVER_GRACE_MS + 101, POLICY)).toBe("unreach");
    forgetElsewhere(next);
    expect(h1.channelElsewhereUntilMs).toBe(0);
  });
});

describe("stream", () => {
  function rig(n = 3) {
    const lead = table(n);
    const src = new SyncSource(lead, 1);
    src.start(4);
    let now = 0;
    const tables = new Map<number, HostTable>([[2, table(n)], [3, table(n)]]);
    const sinks = new Map<number, SyncSink>([...tables].map(([id, t]) => [id, new SyncSink(t)]));
    const down = new Set<number>();
    const sent: { peer: number; batches: number[]; full: boolean }[] = [];
    const post = async (peer: SyncPeer, body: Uint8Array): Promise<PostResult> => {
      const split = splitFrames(body);
      if (!split.ok) throw new Error("bad body");
      const syncs = decode(split.frames);
      sent.push({ peer: peer.id, batches: [...new Set(syncs.map((s) => s.batch))], full: syncs.some((s) => s.full) });
      if (down.has(peer.id)) return { ok: false, detail: "connection refused" };
      const v = sinks.get(peer.id)!.accept(syncs, 1, LEADER, now);
      return v.ok ? { ok: true } : { ok: false, detail: v.error };
    };
    const s = new SyncStream({ source: src, peers: () => [{ id: 2, addr: "m2" }, { id: 3, addr: "m3" }], post, nowMs: () => now });
    return { lead, src, s, sinks, tables, down, sent, advance: (ms: number) => (now += ms), touch: (i: number) => { report(lead, i, now); src.touch(i); } };
  }

  test("first a full batch to each follower, then deltas; nothing but a keepalive when nothing changed", async () => {
    const r = rig();
    await r.s.tick();
    expect(r.sent).toEqual([{ peer: 2, batches: [1], full: true }, { peer: 3, batches: [1], full: true }]);
    r.sent.length = 0;
    r.advance(100);
    r.touch(2);
    await r.s.tick();
    expect(r.sent).toEqual([{ peer: 2, batches: [2], full: false }, { peer: 3, batches: [2], full: false }]);
    r.sent.length = 0;
    for (let t = 100; t < SYNC_KEEPALIVE_MS; t += 100) {
      r.advance(100);
      await r.s.tick();
    }
    expect(r.sent).toEqual([]);
    r.advance(100);
    await r.s.tick();
    // The keepalive carries the empty batches queued meanwhile, in order.
    expect(r.sent.map((x) => x.batches)).toEqual([[3, 4, 5, 6, 7], [3, 4, 5, 6, 7]]);
    expect(r.sinks.get(2)!.freshness(1, 4, 600)?.ageMs).toBe(0);
  });

  test("a master alone builds no batch and marks nothing; a follower that comes starts with the full table", async () => {
    const r = rig();
    let peers: SyncPeer[] = [];
    const s = new SyncStream({ source: r.src, peers: () => peers, post: async () => ({ ok: true }), nowMs: () => 0 });
    const next = spyOn(r.src, "next");
    await s.tick();
    r.touch(1);
    await s.tick();
    expect(next).not.toHaveBeenCalled();
    expect((r.src as unknown as { dirty: Set<number> }).dirty.size).toBe(0);
    peers = [{ id: 2, addr: "m2" }];
    const sent: boolean[] = [];
    const s2 = new SyncStream({ source: r.src, peers: () => peers, post: async (_p, body) => (sent.push(decode((splitFrames(body) as { frames: Uint8Array[] }).frames).some((x) => x.full)), { ok: true }), nowMs: () => 0 });
    await s2.tick();
    expect(next).toHaveBeenCalledTimes(1);
    expect(sent).toEqual([true]);
    r.touch(1);
    expect((r.src as unknown as { dirty: Set<number> }).dirty.size).toBe(1);
    next.mockRestore();
  });

  test("a follower that was down gets the full table once it answers again (after a backoff)", async () => {
    const r = rig();
    r.down.add(3);
    await r.s.tick();
    r.sent.length = 0;
    for (let i = 0; i < 5; i++) {
      r.advance(100);
      r.touch(1);
      await r.s.tick();
    }
    expect(r.sent.filter((x) => x.peer === 3).every((x) => x.full)).toBe(true);
    expect(r.sent.filter((x) => x.peer === 3).length).toBeLessThan(5); // backoff between tries
    r.down.delete(3);
    r.sent.length = 0;
    r.advance(5000);
    r.touch(1);
    await r.s.tick();
    expect(r.sent.find((x) => x.peer === 3)?.full).toBe(true);
    expect(r.sinks.get(3)!.freshness(1, 4, 5600)).not.toBeNull();
    expect(loadView(r.tables.get(3)!.byHostId(1)!, 5600, POLICY)).toEqual(loadView(r.lead.byHostId(1)!, 5600, POLICY));
    const st = r.s.stats().find((f) => f.id === 3)!;
    expect(st.failing).toBe(0);
    expect(st.failures).toBeGreaterThan(0);
  });

  test("a follower that never answers in time does not make the queue grow without bound", async () => {
    const r = rig();
    let release!: () => void;
    const hang = new Promise<void>((res) => (release = res));
    const s = new SyncStream({
      source: r.src,
      peers: () => [{ id: 2, addr: "m2" }],
      post: async () => {
        await hang;
        return { ok: true };
      },
      nowMs: () => 0,
    });
    const first = s.tick(); // the full batch, hanging
    for (let i = 0; i < 2 * SYNC_QUEUE_BATCHES_MAX; i++) void s.tick();
    release();
    await first;
    // Nothing is queued while it waits for the full: the next request is a full again or a fresh delta, never 100 batches.
    expect(s.stats()[0]!.batchesSent).toBe(1);
  });
});
