export * from "./schema.ts";
export * from "./load.ts";
export { defaultDataDir } from "./paths.ts";
