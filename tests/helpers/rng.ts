/** Seeded PRNG for tests: the same seed gives the same run (src/rng). */
export { seededRng } from "../../src/rng/index.ts";
