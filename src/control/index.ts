export * from "./messages.ts";
export * from "./address.ts";
export { parseWhen } from "./when.ts";
