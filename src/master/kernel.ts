/**
 * Kernel UDP drop counters (design §2: under bursts the socket buffer is the
 * first place datagrams are lost). The parser is pure; `readUdpDrops` reads
 * /proc and returns null where it cannot (not Linux, no /proc).
 */
import { readFileSync } from "node:fs";

export interface UdpDrops {
  /** Drops on our own socket (/proc/net/udp "drops" column). */
  socketDrops: number;
  /** System-wide Udp RcvbufErrors and InErrors (/proc/net/snmp). */
  rcvbufErrors: number;
  inErrors: number;
}

/** Sum of the drops column of the sockets bound to `port` in a /proc/net/udp(6) table. */
export function parseProcNetUdp(text: string, port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let found = false;
  let drops = 0;
  for (const line of text.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const local = cols[1]!;
    if (local.slice(local.lastIndexOf(":") + 1).toUpperCase() !== hexPort) continue;
    found = true;
    const d = Number(cols[cols.length - 1]);
    if (Number.isFinite(d)) drops += d;
  }
  return found ? drops : null;
}

/** Udp InErrors and RcvbufErrors from /proc/net/snmp. */
export function parseSnmpUdp(text: string): { inErrors: number; rcvbufErrors: number } | null {
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"));
  if (lines.length < 2) return null;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const get = (n: string) => {
    const i = names.indexOf(n);
    return i >= 0 && Number.isFinite(values[i]) ? values[i]! : 0;
  };
  return { inErrors: get("InErrors"), rcvbufErrors: get("RcvbufErrors") };
}

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

export function readUdpDrops(port: number, procRoot = "/proc"): UdpDrops | null {
  const snmp = read(`${procRoot}/net/snmp`);
  const v4 = read(`${procRoot}/net/udp`);
  if (snmp === null && v4 === null) return null;
  const v6 = read(`${procRoot}/net/udp6`);
  const s = snmp ? parseSnmpUdp(snmp) : null;
  const socketDrops = (v4 ? parseProcNetUdp(v4, port) ?? 0 : 0) + (v6 ? parseProcNetUdp(v6, port) ?? 0 : 0);
  return { socketDrops, rcvbufErrors: s?.rcvbufErrors ?? 0, inErrors: s?.inErrors ?? 0 };
}
