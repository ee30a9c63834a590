/** Jobs: the shapes the scheduler works on and the pure scheduler itself (design §5). */
export * from "./types.ts";
export { globMatch, hostInQueue, neverFits } from "./fit.ts";
export { filterText, jobOrder, matchesFilter, MAX_PLACEMENTS_DEFAULT, schedule, type ScheduleOptions } from "./scheduler.ts";
export { ARRAY_ELEMENTS_MAX, ARRAY_INDEX_MAX, elementName, parseArraySpec, parseElementRef, type ArraySpec } from "./array.ts";
export { arraySummaryState, depIds, judgeDeps, type DepVerdict, type Deps, type TargetState } from "./deps.ts";
export { expandOutputPath, outputPathProblem } from "./output-path.ts";
