/**
 * In-process cost breakdown of the master's per-datagram work, on the same
 * kind of datagrams bench/ingest.ts sends: where the master's CPU per
 * datagram goes beyond what a bare Bun receiver pays. It drives the master's
 * own modules (src/master/ingest.ts, hosts/table.ts, mac.ts) directly, no
 * sockets, so the steps can be timed one by one:
 *
 *   decodeDatagram  the codec's allocating decode (the agent's; the master's before)
 *   check           checkReportDatagram on a fixed DataView: what Ingest.handle runs
 *   check+lookup    … plus the host table lookup by host_id
 *   check+verify    … plus the master's HMAC check (mac.ts) on a fixed view
 *   handle          Ingest.handle: copy, all of the above, replay check, host update
 */
import { HostTable } from "../../src/master/hosts/table.ts";
import { Ingest } from "../../src/master/ingest.ts";
import { tagVerifier } from "../../src/master/mac.ts";
import { AUTH_HOST_ID_OFFSET, checkReportDatagram, decodeDatagram, encodeReport } from "../../src/wire/index.ts";

export interface ProfileRow {
  step: string;
  nsPerDatagram: number;
}

export function profileIngest(hosts: number, datagrams = 200_000, passes = 5): ProfileRow[] {
  const table = new HostTable();
  const keys: Uint8Array[] = [];
  for (let i = 0; i < hosts; i++) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    keys.push(key);
    const hostname = `p-${i}`;
    table.upsert({ hostId: i + 1, hostname, hardware: { ncpus: 8, memBytes: 2 ** 35, gpus: 0 }, version: "bench", registeredAtMs: 0, drained: false });
    table.attachSession(hostname, { reportIp: "127.0.0.1", reportPort: 40000, nonce: String(i), key });
  }
  const ids = [...table.values()].map((h) => h.hostId);
  const rep = { load1: 0.5, load5: 0.5, load15: 0.5, memUsed: 2 ** 33, memFree: 2 ** 34, swapUsed: 0, swapFree: 2 ** 31, ncpus: 8, cpuUser: 10, cpuSys: 3, cpuIdle: 87, jobsRunning: 1, jobsPending: 0, procsTotal: 300, flags: 0 };
  // Received datagrams are Buffers (Bun's UDP "buffer" binaryType): use the same.
  const bufs: Buffer[] = new Array(datagrams);
  for (let j = 0; j < datagrams; j++) {
    const i = j % hosts;
    bufs[j] = Buffer.from(encodeReport(rep, { hostId: ids[i]!, seq: Math.floor(j / hosts) + 1, key: keys[i]! }));
  }
  const verify = tagVerifier();
  let sink = 0;

  const time = (step: string, body: (b: Buffer) => number, reset?: () => void): ProfileRow => {
    let best = Infinity;
    for (let p = 0; p < passes; p++) {
      reset?.();
      const t0 = Bun.nanoseconds();
      for (let j = 0; j < datagrams; j++) sink += body(bufs[j]!);
      best = Math.min(best, (Bun.nanoseconds() - t0) / datagrams);
    }
    return { step, nsPerDatagram: Math.round(best) };
  };

  // What Ingest does with each datagram: a copy into one buffer with a DataView made once.
  const scratch = new Uint8Array(1024);
  const dv = new DataView(scratch.buffer);
  const view = scratch.subarray(0, 148);
  const check = (b: Buffer): number => {
    scratch.set(b);
    const p = checkReportDatagram(dv, b.length);
    return typeof p === "number" ? p : 0;
  };
  const rows: ProfileRow[] = [];
  rows.push(time("length only (bare receiver's work)", (b) => b.length));
  rows.push(time("decodeDatagram (allocating)", (b) => (decodeDatagram(b).ok ? 1 : 0)));
  rows.push(time("copy + checkReportDatagram", check));
  rows.push(time("… + host lookup", (b) => (check(b) > 0 && table.byHostId(dv.getUint32(AUTH_HOST_ID_OFFSET, false)) ? 1 : 0)));
  rows.push(
    time("… + HMAC verify (mac.ts)", (b) => {
      if (check(b) === 0) return 0;
      const h = table.byHostId(dv.getUint32(AUTH_HOST_ID_OFFSET, false));
      return h?.session && verify(view, h.session.key) ? 1 : 0;
    }),
  );
  rows.push(time("HMAC verify alone (mac.ts)", (b) => (verify(b, keys[0]!) ? 1 : 0)));
  let ingest = new Ingest(table, { insecure: false, verify });
  rows.push(
    time(
      "Ingest.handle (full)",
      (b) => (typeof ingest.handle(b, "127.0.0.1", 40000, 1) === "string" ? 0 : 1),
      () => {
        for (const h of table.values()) if (h.session) h.session.lastSeq = 0;
        ingest = new Ingest(table, { insecure: false, verify });
      },
    ),
  );
  if (ingest.counters.accepted !== datagrams) throw new Error(`profile: handle accepted ${ingest.counters.accepted}/${datagrams}`);
  if (sink === -1) console.log(sink);
  return rows;
}
