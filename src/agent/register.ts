/**
 * The agent's `register` message (docs/api.md "Control channel"): hostname,
 * hardware (with what the job host adds: GPUs, labels, whether this is a
 * master's host), the UDP report port, the version, and, with a host key,
 * the proof of possession bound to the token of the connection it opens.
 */
import { randomBytes } from "node:crypto";
import { release as osRelease, type as osType } from "node:os";
import { registerProofFields, type HostKey } from "../auth/index.ts";
import type { Register } from "../control/index.ts";
import { logger } from "../log/index.ts";
import { VERSION } from "../version.ts";
import { errorText } from "./control.ts";
import type { HardwareInfo } from "./procfs/index.ts";

const log = logger("agent");

/** `hardware.os` is at most 200 characters (control/messages.ts). */
const OS_CHARS_MAX = 200;

export interface RegisterSource {
  hostname: string;
  hardware: () => HardwareInfo;
  /** What the job host adds to `hardware` (jobs/host.ts). */
  jobHardware: () => Pick<Register["hardware"], "gpus" | "labels" | "onMaster" | "takesJobs">;
  /** Milliseconds since the epoch (the proof's `at`). */
  wallClock: () => number;
}

/** The unsigned `register`; hardware that cannot be read registers as 1 cpu and 0 bytes (logged). */
export function registerMessage(src: RegisterSource, reportPort: number): Register {
  let hw: HardwareInfo;
  try {
    hw = src.hardware();
  } catch (e) {
    log.warn(`cannot read the hardware (${errorText(e)}); registering with 1 cpu and 0 bytes`);
    hw = { ncpus: 1, memBytes: 0 };
  }
  return {
    type: "register",
    hostname: src.hostname,
    hardware: { ncpus: Math.max(1, Math.round(hw.ncpus)), memBytes: Math.max(0, Math.round(hw.memBytes)), os: `${osType()} ${osRelease()}`.slice(0, OS_CHARS_MAX), ...src.jobHardware() },
    reportPort,
    version: VERSION,
  };
}

/** A `register` for a connection that sends `token`: with the host key's proof bound to that token (none without a key: --insecure). */
export async function signedRegister(src: RegisterSource, hostKey: HostKey | null, reportPort: number, token: string | undefined): Promise<Register> {
  const base = registerMessage(src, reportPort);
  if (!hostKey) return base;
  return { ...base, ...(await registerProofFields(hostKey, src.hostname, token, Math.round(src.wallClock()), randomBytes(16).toString("base64"))) };
}
