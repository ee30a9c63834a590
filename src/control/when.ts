/** Times in query strings: ISO 8601, epoch milliseconds, or a duration back from now ("30m", "2h", "7d"). Pure. */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseWhen(raw: string, nowMs: number): number | null {
  const s = raw.trim();
  const dur = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(s);
  if (dur) return Math.round(nowMs - Number(dur[1]) * UNIT_MS[dur[2]!]!);
  if (/^\d{10,16}$/.test(s)) return Number(s);
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}
