/**
 * Waiting for a condition with a deadline, never a fixed sleep (style.md).
 * Polls every few ms; on timeout throws an Error naming what was awaited.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs: number,
  what = "condition",
  pollMs = 10,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await cond();
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await Bun.sleep(pollMs);
  }
}
