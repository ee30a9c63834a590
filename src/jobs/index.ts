/** Jobs: the shapes the scheduler works on and the pure scheduler itself (design §5). */
export * from "./types.ts";
export { hostInQueue, neverFits } from "./fit.ts";
export { jobOrder, MAX_PLACEMENTS_DEFAULT, schedule, type ScheduleOptions } from "./scheduler.ts";
