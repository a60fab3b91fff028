import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // User protocols import the core as "wirescope" (the sandbox provides it at run time).
  resolve: { alias: { wirescope: fileURLToPath(new URL("./core/index.ts", import.meta.url)) } },
  test: {
    include: [
      "core/**/*.test.ts",
      "main/**/*.test.ts",
      "preload/**/*.test.ts",
      "renderer/src/lib/**/*.test.ts",
      "tests/**/*.test.ts",
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real sockets and child processes: forks keep each file's reactor in its own process.
    pool: "forks",
  },
});
