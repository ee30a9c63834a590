export * from "./messages.ts";
export * from "./address.ts";
export { parseWhen } from "./when.ts";
export { ROLES, RoleSchema, type Role } from "./roles.ts";
export { HOST_STATES, type HostState } from "./host-states.ts";
export { REQUEST_ID_HEADER, REPLAYED_HEADER } from "./http-headers.ts";
