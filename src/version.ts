/**
 * Version and build commit. `scripts/build.ts` replaces the two globals with
 * `--define`; running from source they fall back to package.json and "dev".
 */
import pkg from "../package.json" with { type: "json" };

declare const LAVA_VERSION: string | undefined;
declare const LAVA_COMMIT: string | undefined;

export const VERSION: string = typeof LAVA_VERSION === "string" ? LAVA_VERSION : pkg.version;
export const COMMIT: string = typeof LAVA_COMMIT === "string" ? LAVA_COMMIT : "dev";
