export * from "./errors.ts";
export * from "./args.ts";
