/**
 * JIT policy per role. The compiled binary starts with the JIT made
 * JIT_POLICY_AGENT times more reluctant to compile (scripts/build.ts bakes it
 * in): the agent runs a little code once per report, which the interpreter
 * handles for less memory and no compile work (bench/agent.ts). Every other
 * role (a master's ingest path, ctl formatting 10,000 rows) gets the normal
 * policy back as soon as main.ts knows which role it runs.
 */
export const JIT_POLICY_AGENT = 1000;

/** The normal JIT policy for every role but the agent; a no-op where Bun has no such call. */
export function jitPolicyFor(role: string | undefined): void {
  if (role === "agent") return;
  const unsafe = Bun.unsafe as { setJITPolicy?: (scale: number) => void };
  unsafe.setJITPolicy?.(1);
}
