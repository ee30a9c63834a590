import { defineConfig } from "drizzle-kit";

// `bunx drizzle-kit generate` writes SQL migrations next to the schema; they
// are embedded in the binary by src/store/migrations/index.ts.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./src/store/migrations",
});
