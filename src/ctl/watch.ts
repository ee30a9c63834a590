/**
 * `--watch`: redraw a view every few seconds until Ctrl-C, like watch(1)
 * around lsload. On a terminal the screen is cleared and redrawn in place;
 * into a pipe or file each view is appended after a title line, so a log
 * of it stays readable. A failed request is shown in place of the view and
 * the loop goes on (a master restarting is what one watches for).
 */
import { LavaError } from "../errors.ts";
import { formatTime } from "./table.ts";
import { printRaw } from "./output.ts";

export interface WatchOptions {
  intervalSec: number;
  /** What is watched, for the title line ("lava ctl load -s -load1"). */
  title: string;
  draw: () => Promise<string>;
  /** Default: stdout is a terminal. */
  inPlace?: boolean;
  /** Resolves when the loop should end (default: SIGINT or SIGTERM). */
  stop?: Promise<void>;
}

const CLEAR = "\x1b[H\x1b[2J";

export async function watchLoop(o: WatchOptions): Promise<void> {
  const inPlace = o.inPlace ?? process.stdout.isTTY === true;
  let stopped = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    stopped = true;
    wake();
  };
  const stop = o.stop ?? new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  void stop.then(onSignal);
  while (!stopped) {
    let body: string;
    try {
      body = await o.draw();
    } catch (e) {
      if (!(e instanceof LavaError)) throw e;
      body = `lava: ${e.message}`;
    }
    if (stopped) break;
    const title = `Every ${o.intervalSec}s: ${o.title}    ${formatTime(Date.now(), true)} UTC`;
    await printRaw(inPlace ? `${CLEAR}${title}\n\n${body}\n` : `${title}\n${body}\n\n`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.intervalSec * 1000);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
