/**
 * The Node heap flags Lambda's Node.js bootstrap derives from a function's
 * memory (new space a tenth of it, in two semi-spaces; old space the rest),
 * so what runs here under a memory size runs out of heap where Lambda would.
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}
