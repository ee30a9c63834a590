/**
 * Golden vectors: the exact bytes of one datagram of each kind, pinned here
 * AND in docs/protocol.md (parsed below), so neither the codec nor the doc
 * can drift.
 */
import { describe, expect, test } from "bun:test";
import { decodeDatagram, encodeAnnounce, encodeReport, encodeSync, verifyTag, type Announce, type LoadReport } from "../../src/wire/index.ts";

const REPORT: LoadReport = {
  load1: 0.5,
  load5: 0.25,
  load15: 0.125,
  memUsed: 8 * 2 ** 30,
  memFree: 24 * 2 ** 30,
  swapUsed: 0,
  swapFree: 2 * 2 ** 30,
  ncpus: 8,
  cpuUser: 12.5,
  cpuSys: 2.5,
  cpuIdle: 85,
  jobsRunning: 2,
  jobsPending: 1,
  procsTotal: 312,
  flags: 0,
};
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i); // 00 01 .. 1f
const ANNOUNCE: Announce = {
  nodeId: 1,
  term: 3,
  reportIntervalMs: 4000,
  leaderAddr: "10.0.0.1:6880",
  windowBase: 0,
  activeHostIds: [1, 2, 3, 5, 8],
};

const PAYLOAD_HEX =
  "3fe0000000000000" + "3fd0000000000000" + "3fc0000000000000" + "4200000000000000" + "4218000000000000" +
  "0000000000000000" + "41e0000000000000" + "4020000000000000" + "4029000000000000" + "4004000000000000" +
  "4055400000000000" + "00000002" + "00000001" + "00000138" + "00000000";

const GOLDEN: Record<string, string> = {
  report: "0000000b" + "00000068" + "00000000" + PAYLOAD_HEX,
  "report-auth":
    "0000000b" + "00000088" + "00000001" + "00000007" + "0000002a" +
    "4eae1ed6b55cc5992b7755d1e20a08273c8e7eb7aa441bf6" + PAYLOAD_HEX,
  announce:
    "0000000a" + "00000028" + "00000000" + "00000001" + "0000000000000003" + "00000fa0" + "00000000" + "000d" + "0002" +
    "31302e302e302e313a36383830" + "7480" + "00",
  sync:
    "0000000c" + "00000124" + "00000000" + "00000002" + "0000000000000007" + "00000029" + "03" + "02" + "0000" +
    "00000007" + "1234abcd" + "0000002a" + "00000352" + "00000003" + "00000001" + "0000012c" + "00000000" + PAYLOAD_HEX +
    "00000008" + "00000000".repeat(7) + "00".repeat(104),
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const encoded: Record<string, Uint8Array> = {
  report: encodeReport(REPORT),
  "report-auth": encodeReport(REPORT, { hostId: 7, seq: 42, key: KEY }),
  announce: encodeAnnounce(ANNOUNCE),
  sync: encodeSync({ nodeId: 2, term: 7, batch: 41, full: true, last: true }, [
    { hostId: 7, session: 0x1234abcd, seq: 42, ageMs: 850, channel: true, lost: 1, received: 300, report: REPORT },
    { hostId: 8, session: 0, seq: 0, ageMs: 0, channel: false, lost: 0, received: 0, report: null },
  ]),
};

/** Parses ```hex id=NAME blocks: "OFFS:  hh hh ..  | note" lines, offsets checked. */
function parseDocBlocks(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of md.matchAll(/^```hex id=([\w-]+)\n([\s\S]*?)^```$/gm)) {
    const id = m[1] ?? "";
    let bytes = "";
    for (const line of (m[2] ?? "").split("\n")) {
      if (line.trim() === "") continue;
      const lm = /^([0-9a-f]{4}):((?:\s+[0-9a-f]{2})+)\s+\|/.exec(line);
      if (!lm) throw new Error(`docs/protocol.md block ${id}: unparsable line ${JSON.stringify(line)}`);
      const offset = parseInt(lm[1] ?? "", 16);
      if (offset !== bytes.length / 2) {
        throw new Error(`docs/protocol.md block ${id}: offset ${lm[1]} but ${bytes.length / 2} bytes so far`);
      }
      bytes += (lm[2] ?? "").replace(/\s+/g, "");
    }
    out.set(id, bytes);
  }
  return out;
}

describe("golden vectors", () => {
  for (const id of Object.keys(GOLDEN)) {
    test(`encode ${id} equals the pinned hex`, () => {
      expect(hex(encoded[id] ?? new Uint8Array())).toBe(GOLDEN[id] ?? "");
    });
  }

  test("datagram sizes are 116, 148, 52 and 304 bytes", () => {
    expect(encoded.report?.length).toBe(116);
    expect(encoded["report-auth"]?.length).toBe(148);
    expect(encoded.announce?.length).toBe(52);
    expect(encoded.sync?.length).toBe(304);
  });

  test("the golden datagrams decode to the examples", () => {
    const r = decodeDatagram(Buffer.from(GOLDEN.report ?? "", "hex"));
    expect(r).toEqual({ ok: true, op: 11, report: REPORT, auth: null });

    const buf = Buffer.from(GOLDEN["report-auth"] ?? "", "hex");
    const ra = decodeDatagram(buf);
    expect(ra.ok && ra.op === 11 && ra.auth).toEqual({ hostId: 7, seq: 42, tag: buf.subarray(20, 44) });
    expect(verifyTag(buf, KEY)).toBe(true);

    const a = decodeDatagram(Buffer.from(GOLDEN.announce ?? "", "hex"));
    if (!a.ok || a.op !== 10) throw new Error(`announce did not decode: ${JSON.stringify(a)}`);
    expect(a.auth).toBeNull();
    expect({ ...a.announce, bitmap: [...a.announce.bitmap] }).toEqual({ ...ANNOUNCE, bitmapBytes: 2, bitmap: [0x74, 0x80] });

    const s = decodeDatagram(Buffer.from(GOLDEN.sync ?? "", "hex"));
    expect(s).toEqual({
      ok: true,
      op: 12,
      auth: null,
      sync: {
        nodeId: 2, term: 7, batch: 41, full: true, last: true,
        records: [
          { hostId: 7, session: 0x1234abcd, seq: 42, ageMs: 850, channel: true, lost: 1, received: 300, report: REPORT },
          { hostId: 8, session: 0, seq: 0, ageMs: 0, channel: false, lost: 0, received: 0, report: null },
        ],
      },
    });
  });

  test("docs/protocol.md hex blocks match the pinned hex", async () => {
    const md = await Bun.file(new URL("../../docs/protocol.md", import.meta.url)).text();
    const blocks = parseDocBlocks(md);
    expect([...blocks.keys()].sort()).toEqual(Object.keys(GOLDEN).sort());
    for (const [id, bytes] of blocks) expect({ id, bytes }).toEqual({ id, bytes: GOLDEN[id] ?? "" });
  });
});
