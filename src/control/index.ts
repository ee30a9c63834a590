export * from "./messages.ts";
export * from "./address.ts";
