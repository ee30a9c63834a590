/**
 * `submit -o FILE -e FILE` patterns (like Slurm's and LSF's): `%j` the job
 * id (for an array element, the array's id, so `out.%j.%a` reads
 * `out.1000.7`), `%a` the array index (empty outside an array), `%%` a
 * literal `%`. Pure.
 */

/** Why a pattern cannot be used, or null. */
export function outputPathProblem(pattern: string, flag: string): string | null {
  if (pattern.trim() === "") return `${flag} must not be empty`;
  if (pattern.includes("\0")) return `${flag} must not contain a NUL character`;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "%") continue;
    const c = pattern[i + 1];
    if (c !== "j" && c !== "a" && c !== "%") return `${flag} ${JSON.stringify(pattern)}: unknown pattern %${c ?? ""} (use %j for the job id, %a for the array index, %% for %)`;
    i++;
  }
  return null;
}

export function expandOutputPath(pattern: string, job: { jobId: number; arrayId?: number | null | undefined; arrayIndex?: number | null | undefined }): string {
  const id = job.arrayId ?? job.jobId;
  const index = job.arrayIndex ?? null;
  return pattern.replace(/%([ja%])/g, (_m, c: string) => (c === "j" ? String(id) : c === "a" ? (index === null ? "" : String(index)) : "%"));
}
