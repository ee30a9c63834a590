/**
 * The keeper: a small shell process the agent starts beside itself, whose
 * only job is to end the agent's jobs if the agent dies without doing it
 * (SIGKILL, the OOM killer, a crash). See docs/jobs.md "Orphans and double
 * runs".
 *
 * It runs in its own session and reads a pipe whose other end only the
 * agent holds; the kernel closes that end when the agent dies, however it
 * dies, and the keeper's read sees end of file. It then sends SIGTERM to
 * every process group the job records name (checked against their start
 * time, as records.ts says; a record younger than the job's first look has
 * none yet and its group is signalled as it is), waits the longest kill
 * grace among them, and
 * sends SIGKILL. An agent that stops normally kills its jobs itself and
 * removes their records first, so the keeper finds nothing and exits.
 *
 * Why a shell script: it must outlive the agent, so it cannot be a thread
 * of it; a second Bun process would cost tens of MB for a loop that reads
 * one pipe. /bin/sh, cat, sleep and kill are on every Linux host.
 *
 * A restarted agent stops the previous keeper (its pid is in
 * `<stateDir>/keeper.pid`) and does the same clean-up itself before it
 * takes new work (runner.ts `reclaim`).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileSink, Subprocess } from "bun";
import { logger } from "../../log/index.ts";

const log = logger("agent");

/** $0 of the keeper, so a restarted agent can tell its predecessor's keeper from an unrelated process. */
export const KEEPER_NAME = "lava-job-keeper";

export const KEEPER_SCRIPT = `dir=$1
while IFS= read -r _l; do :; done
send() {
  sig=$1; max=0
  for f in "$dir"/*.rec; do
    [ -f "$f" ] || continue
    pg= st= gr=
    { read -r pg st gr; } < "$f" 2>/dev/null
    case $pg in ''|*[!0-9]*) continue;; esac
    case $gr in ''|*[!0-9]*) gr=10000;; esac
    if [ "$st" != - ] && [ -r "/proc/$pg/stat" ]; then
      s=$(cat "/proc/$pg/stat" 2>/dev/null) || continue
      s=\${s##*) }
      set -- $s
      [ "$st" != 0 ] && [ "\${20}" = "$st" ] || continue
    fi
    kill -s "$sig" -- "-$pg" 2>/dev/null && [ "$gr" -gt "$max" ] && max=$gr
  done
}
send TERM
[ "$max" -gt 30000 ] && max=30000
[ "$max" -gt 0 ] && sleep "$((max / 1000)).$(printf %03d $((max % 1000)))"
send KILL
`;

export interface Keeper {
  readonly pid: number;
  /** Ends the keeper (the agent stops normally, its jobs already ended). */
  stop(): void;
}

const PID_FILE = "keeper.pid";

/** Stops a keeper a previous agent on this state dir left (it is about to clean up the same records). */
export function stopPreviousKeeper(stateDir: string): void {
  const path = join(stateDir, PID_FILE);
  let pid: number;
  try {
    pid = Number(readFileSync(path, "utf8").trim());
  } catch {
    return;
  }
  if (Number.isSafeInteger(pid) && pid > 1) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      // gone
    }
    if (cmdline.includes(KEEPER_NAME)) {
      try {
        process.kill(pid, "SIGKILL");
        log.info(`stopped the job keeper (pid ${pid}) of the previous agent on ${stateDir}`);
      } catch {
        // gone meanwhile
      }
    }
  }
  rmSync(path, { force: true });
}

export function startKeeper(stateDir: string, recordsDir: string): Keeper | null {
  let proc: Subprocess<"pipe", "ignore", "ignore">;
  try {
    proc = Bun.spawn(["/bin/sh", "-c", KEEPER_SCRIPT, KEEPER_NAME, recordsDir], { stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true });
  } catch (e) {
    log.warn(`cannot start the job keeper (/bin/sh): ${(e as Error).message}; if this agent is killed outright, its jobs run on until it restarts`);
    return null;
  }
  const sink: FileSink = proc.stdin;
  try {
    writeFileSync(join(stateDir, PID_FILE), `${proc.pid}\n`, { mode: 0o600 });
  } catch (e) {
    log.warn(`cannot write ${join(stateDir, PID_FILE)}: ${(e as Error).message}`);
  }
  // Never awaited: the keeper lives as long as the agent.
  proc.unref();
  return {
    pid: proc.pid,
    stop() {
      try {
        sink.end();
      } catch {
        // closed already
      }
      // Not left to the end of file alone: a sweep of this state dir after
      // another agent took it over (a restart on the same dir) would end that agent's jobs.
      proc.kill("SIGKILL");
      rmSync(join(stateDir, PID_FILE), { force: true });
    },
  };
}
