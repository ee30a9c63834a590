/**
 * Result of a /proc parser or reader. Bad input is an operating condition
 * (an odd kernel, a container's fake /proc, a truncated read), not a
 * programmer error, so it comes back as a value and never as a throw.
 */
export type ProcResult<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): ProcResult<T> => ({ ok: true, value });
export const fail = <T = never>(error: string): ProcResult<T> => ({ ok: false, error });

/** Longest piece of offending input quoted back in an error message. */
const SNIPPET_CHARS_MAX = 60;

/** Quotes untrusted input for an error message: one line, bounded length. */
export function snippet(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(line.length > SNIPPET_CHARS_MAX ? `${line.slice(0, SNIPPET_CHARS_MAX)}…` : line);
}

/** A non-negative decimal integer, digits only ("0x10", "1e3", "" and "-1" are not). */
export function parseCount(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}
