import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests each start their own dynalite and loopback servers on
    // ephemeral ports, so files can run in parallel.
    pool: "forks",
    // Tests run in random order, so one that leans on another's state fails
    // instead of passing by accident (the seed is printed to replay an order).
    sequence: { shuffle: true },
  },
});
