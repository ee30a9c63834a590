/**
 * Self-update (`update_agent`): plan.ts (pure: can it, the URL, the temp
 * name, the version check, the restart plan), download.ts (streamed and
 * hashed), updater.ts (the steps and the answer), restart.ts (execve, or
 * spawn and exit).
 */
export { isCompiledBinary, restartPlan, tempPathFor, updateUrl, versionProblem, type RestartPlan } from "./plan.ts";
export { downloadTo, DOWNLOAD_BYTES_MAX, DOWNLOAD_TIMEOUT_MS, type Downloaded } from "./download.ts";
export { createUpdater, VERSION_CHECK_TIMEOUT_MS, type Updater, type UpdaterOptions } from "./updater.ts";
export { restartInto, type RestartHow } from "./restart.ts";
