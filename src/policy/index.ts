/** Command policy shared by the master and the agents: allowlists with argument patterns, deny lists. */
export { argPattern, commandMatches, entryProblem, entryText, matchAllowlist, REST, type AllowEntry, type AllowVerdict } from "./allowlist.ts";
