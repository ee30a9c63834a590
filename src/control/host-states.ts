/**
 * Host states (design §3), in the order `lava ctl status` lists them and the
 * shared-memory load table numbers them (src/loadtable/layout.ts: a state's
 * code is its index here, so new states go at the end). The master derives
 * them (src/master/hosts/status.ts), the scheduler acts on them
 * (src/jobs/), the CLI shows them.
 */
export const HOST_STATES = ["ok", "busy", "drained", "unavail", "unreach"] as const;
export type HostState = (typeof HOST_STATES)[number];
