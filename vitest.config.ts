import { defineConfig } from "vitest/config";

/**
 * Three tiers by folder, one vitest project each (`vitest run --project unit`):
 * - unit: pure, no I/O, seconds; the tier to run on every change;
 * - integration: dynalite and real HTTP servers on 127.0.0.1;
 * - slow: `npm start` end to end, the packaged stack, property tests.
 * `npm test` runs them in that order after the type check.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests each start their own dynalite and loopback servers on
    // ephemeral ports, so files can run in parallel.
    pool: "forks",
    // Tests run in random order, so one that leans on another's state fails
    // instead of passing by accident (the seed is printed to replay an order).
    sequence: { shuffle: true },
    // The AWS SDK's Node-version notice, hidden as `npm start` hides it.
    setupFiles: ["test/setup/node-warnings.ts"],
    projects: [
      {
        extends: true,
        // Pure tests share one module graph per worker instead of importing
        // zod and the SDK again for every file: half the tier's time here
        // (no test in it mocks a module or changes process.env).
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], isolate: false },
      },
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"] } },
      { extends: true, test: { name: "slow", include: ["test/{e2e,deploy,property,slow}/**/*.test.ts"] } },
    ],
  },
});
