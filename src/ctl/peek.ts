import { defineCommand } from "citty";
import { connect, ctlArgs, oneName } from "./args.ts";
import { jobId } from "./job-args.ts";
import { notRunning, readOutput } from "./job-output.ts";
import { printJson } from "./output.ts";
import { meta } from "../cli/meta.ts";

/** Most requests one peek makes (each up to 256 KiB per stream; the agent keeps about 1 MiB + 64 KiB of each). */
const PEEK_ROUNDS_MAX = 8;

export default defineCommand({
  meta: meta({
    name: "peek",
    description: "What a job has written so far (like bpeek): stdout on stdout, stderr on stderr; of an ended job, its recorded output",
    examples: ["lava ctl peek 42", "lava ctl peek '1000[7]'"],
  }),
  args: {
    ...ctlArgs,
    id: { type: "positional", description: "The job's id, or ID[INDEX] for an array element" },
  },
  async run({ args }) {
    const id = jobId(oneName(args, "job ID", "peek"), "peek");
    const ctx = connect(args);
    const p = await readOutput(ctx.client, id);
    // One answer carries at most 256 KiB of each stream: read on to what was written when asked.
    for (let i = 0; i < PEEK_ROUNDS_MAX; i++) {
      const o = p.stdoutFrom + Buffer.byteLength(p.stdout);
      const e = p.stderrFrom + Buffer.byteLength(p.stderr);
      if (o >= p.stdoutTotal && e >= p.stderrTotal) break;
      const more = await readOutput(ctx.client, id, o, e);
      if (!more.stdout && !more.stderr) break;
      if (more.stdoutFrom > o) p.stdout += `\n[lava: ${more.stdoutFrom - o} bytes not kept]\n`;
      if (more.stderrFrom > e) p.stderr += `\n[lava: ${more.stderrFrom - e} bytes not kept]\n`;
      p.stdout += more.stdout;
      p.stderr += more.stderr;
    }
    if (ctx.json) {
      await printJson(p);
      return;
    }
    if (p.state === "PEND" || (p.error && !p.stdout && !p.stderr)) throw notRunning(id, p);
    process.stdout.write(p.stdout);
    process.stderr.write(p.stderr);
    if (p.stdoutPath) process.stderr.write(`[lava: stdout goes to ${p.stdoutPath} on the host]\n`);
  },
});
