import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests each start their own dynalite and loopback servers on
    // ephemeral ports, so files can run in parallel.
    pool: "forks",
  },
});
