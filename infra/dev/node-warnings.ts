/**
 * The AWS SDK warns on Node 20 that its releases after January 2027 will need
 * Node 22. The lockfile pins this SDK, so the notice is only noise: `npm start`
 * and the tests print every other warning but this one.
 */
export function hideSdkNodeVersionWarning(): void {
  process.removeAllListeners("warning");
  process.on("warning", (w) => {
    if (!`${w.name} ${w.message}`.includes("NodeVersionSupportWarning")) console.error(`${w.name}: ${w.message}`);
  });
}
