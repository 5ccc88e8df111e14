#!/usr/bin/env node
// Module load time of each packaged function in a fresh `node` process,
// against a bare `node` start; median of RUNS runs. Also builds a variant with
// the AWS SDK left external (as if taken from the Lambda runtime) and loads it
// against this repository's node_modules, to compare.
// Usage: npm run package && node scripts/measure-cold-start.mjs [runs]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const RUNS = Number(process.argv[2] ?? 15);
const root = resolve(import.meta.dirname, "..");
const functions = ["api", "poller"];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(args, cwd) {
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd, env: { PATH: process.env.PATH } });
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${r.stderr}`);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(out);
}

const bare = time(["-e", "0"], root);
const rows = [];
for (const fn of functions) {
  const zip = join(root, ".serverless", `${fn}.zip`);
  const dir = mkdtempSync(join(tmpdir(), `cold-${fn}-`));
  const unzip = spawnSync("python3", ["-m", "zipfile", "-e", zip, dir]);
  if (unzip.status !== 0) throw new Error(`cannot unzip ${zip}: run npm run package first`);
  const file = `./functions/${fn}.mjs`;
  const bundled = time(["--input-type=module", "-e", `await import(${JSON.stringify(file)})`], dir);
  rows.push({ fn, variant: "SDK bundled (deployed)", zipKiB: statSync(zip).size / 1024, loadMs: bundled - bare });
  rmSync(dir, { recursive: true, force: true });

  // Same build with @aws-sdk/* external, resolved from node_modules.
  const ext = join(root, ".esbuild-measure");
  mkdirSync(ext, { recursive: true });
  const outfile = join(ext, `${fn}.mjs`);
  await build({
    entryPoints: [join(root, "functions", `${fn}.ts`)],
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    external: ["@aws-sdk/*", "@smithy/*"],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "silent",
  });
  const external = time(["--input-type=module", "-e", `await import(${JSON.stringify(outfile)})`], root);
  rows.push({ fn, variant: "SDK external (runtime)", zipKiB: statSync(outfile).size / 1024, loadMs: external - bare });
  rmSync(ext, { recursive: true, force: true });
}

console.log(`bare node start: ${bare.toFixed(1)} ms (median of ${RUNS}); load = median(import) - bare`);
console.log("| function | variant | size KiB | module load ms |");
console.log("|---|---|---|---|");
for (const r of rows) console.log(`| ${r.fn} | ${r.variant} | ${r.zipKiB.toFixed(0)} | ${r.loadMs.toFixed(1)} |`);
console.log("(external size is the bundle alone; the SDK it loads comes from node_modules / the runtime)");
