import { runUnitsByShape } from "./units-by-shape";
for (const u of await runUnitsByShape()) {
  console.log(u.shape, u.resultBytes, "=>", u.writeUnits);
  for (const w of u.writes) console.log("   ", w.sk.slice(0, 24), w.bytes, "table", w.table, JSON.stringify(w.indexes), w.applied ? "" : "FAILED");
}
