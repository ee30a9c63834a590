/**
 * Job arrays (`submit --array A-B[:STEP][%MAX]`, like Slurm's `--array` and
 * LSF's `-J "name[A-B:STEP]%MAX"`). Pure.
 */

/** Most elements of one array (the store's bound too). */
export const ARRAY_ELEMENTS_MAX = 100_000;
/** Largest index. */
export const ARRAY_INDEX_MAX = 10_000_000;

export interface ArraySpec {
  /** As given, for display: "1-1000%50". */
  spec: string;
  first: number;
  last: number;
  step: number;
  count: number;
  /** Most elements running at once; undefined = no limit. */
  maxRunning?: number;
}

const SPEC_RE = /^(\d{1,8})-(\d{1,8})(?::(\d{1,8}))?(?:%(\d{1,8}))?$/;

/** The array a spec names, or why it names none (for a 400 and exit 2). */
export function parseArraySpec(text: string): ArraySpec | string {
  const m = SPEC_RE.exec(text.trim());
  if (!m) return `--array takes A-B[:STEP][%MAX] (like 1-1000, 0-98:2, 1-1000%50), got "${text}"`;
  const first = Number(m[1]);
  const last = Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  const max = m[4] === undefined ? undefined : Number(m[4]);
  if (last < first) return `--array ${text}: the last index (${last}) is below the first (${first})`;
  if (last > ARRAY_INDEX_MAX) return `--array ${text}: indices go up to ${ARRAY_INDEX_MAX}`;
  if (step < 1) return `--array ${text}: the step must be at least 1`;
  if (max !== undefined && max < 1) return `--array ${text}: %MAX must be at least 1`;
  const count = Math.floor((last - first) / step) + 1;
  if (count > ARRAY_ELEMENTS_MAX) return `--array ${text}: ${count} elements; an array has at most ${ARRAY_ELEMENTS_MAX}`;
  const spec: ArraySpec = { spec: text.trim(), first, last: first + (count - 1) * step, step, count };
  if (max !== undefined) spec.maxRunning = max;
  return spec;
}

/** "ID[INDEX]" (LSF's spelling; Slurm's "ID_INDEX" is read too) → the array id and the index; null if `text` is not one. */
export function parseElementRef(text: string): { arrayId: number; index: number } | null {
  const m = /^(\d{1,15})(?:\[(\d{1,8})\]|_(\d{1,8}))$/.exec(text.trim());
  if (!m) return null;
  const arrayId = Number(m[1]);
  const index = Number(m[2] ?? m[3]);
  return arrayId >= 1 ? { arrayId, index } : null;
}

/** How an element is named in tables and messages: "1000[7]". */
export function elementName(arrayId: number, index: number): string {
  return `${arrayId}[${index}]`;
}
