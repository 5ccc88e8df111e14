/**
 * DynamoDB write units of one watch life by shape (register with its first
 * APIG query, processing -> succeed, one webhook delivered), metered on the
 * wire by DynamoDB's rules (`infra/dev/capacity-proxy.ts`): the benchmark's
 * `--only=shapes` figures, held here so a change that makes a life dearer
 * fails. An import's lists are kept beside the watch, so its writes stay one
 * unit each; they still read back whole.
 */
import { describe, expect, it } from "vitest";
import { runUnitsByShape, type ShapeUnits } from "../../scripts/bench/units-by-shape";

describe("write units per watch life by shape", () => {
  it("every life costs the watch under 10 write units (imports all in), and an import's lists read back whole", async () => {
    const shapes = await runUnitsByShape();
    const by = (name: string): ShapeUnits => shapes.find((s) => s.shape === name)!;
    const detail = (s: ShapeUnits) => `${s.shape}: ${s.writeUnits} units, ${JSON.stringify(s.writes)}`;
    for (const name of ["small import (1 API)", "100-API import", "1,000-API import"]) {
      const s = by(name);
      expect(s.writeUnits, detail(s)).toBeLessThan(10);
      // Every write of the watch itself is one unit: no result makes its item grow past 1 KB.
      for (const w of s.writes) if (w.sk.startsWith("W#")) expect(w.table, detail(s)).toBe(1);
    }
    expect(by("small import (1 API)").writeUnits).toBeLessThanOrEqual(7);
    expect(by("100-API import").answered).toBe(100);
    expect(by("100-API import").notified).toBe(100);
    // The watch keeps 100 entries of each list, and the counts of all.
    expect(by("1,000-API import").answered).toBe(100);
    expect(by("1,000-API import").notified).toBe(100);
    // Exports: the watch's own life is under 10 too, and the document beside it is written once
    // (one chunk here), about a unit per KB of gzip, however many times the watch is written.
    for (const name of ["export (64 KiB document)", "export (1,000 operations, 132 KB document)"]) {
      const s = by(name);
      expect(s.watchUnits, detail(s)).toBeLessThan(10);
      expect(s.writes.filter((w) => !w.sk.startsWith("W#")).length, detail(s)).toBe(1);
    }
    expect(by("export (64 KiB document)").writeUnits).toBeLessThanOrEqual(10);
    expect(by("export (1,000 operations, 132 KB document)").writeUnits).toBeLessThanOrEqual(13);
  }, 60_000);
});
