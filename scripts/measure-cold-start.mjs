#!/usr/bin/env node
// Cold-start cost of each packaged function: the time a fresh `node` process
// needs to import the handler module, minus a bare `node -e 0` start, median
// of RUNS runs (interleaved, so drift hits every variant alike), with the
// NODE_OPTIONS the stack sets (none since issue 18; `--source-maps` adds
// --enable-source-maps, as the stack set before).
//
// Two variants per function:
//  - "SDK bundled": the zip `npm run package` built, unzipped to a temp dir;
//  - "SDK external": the same build with @aws-sdk/* and @smithy/* left out,
//    loaded against this repository's node_modules the way the nodejs24.x
//    runtime would load its own copy from /var/runtime/node_modules.
//  - with `--baseline REF`: the same deployed build of git REF (checked out in
//    a temporary worktree, bundled with the serverless.yml esbuild options),
//    timed in the same interleaved runs, so before/after compare side by side.
// Usage: npm run bench:cold-start [-- [RUNS] [--baseline REF] [--source-maps | --compare-source-maps]]   (packages first)
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const args = process.argv.slice(2);
const baseIdx = args.indexOf("--baseline");
const BASELINE = baseIdx >= 0 ? args.splice(baseIdx, 2)[1] : undefined;
const smIdx = args.indexOf("--source-maps");
const nodeFlags = smIdx >= 0 ? (args.splice(smIdx, 1), ["--enable-source-maps"]) : [];
// --compare-source-maps: the deployed bundles also with --enable-source-maps, in the same interleaved runs.
const cmpIdx = args.indexOf("--compare-source-maps");
const COMPARE_SM = cmpIdx >= 0 && Boolean(args.splice(cmpIdx, 1));
const RUNS = Number(args[0] ?? 15);
const root = resolve(import.meta.dirname, "..");
const functions = ["api", "poller"];
// Must match custom.esbuild in serverless.yml.
const banner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/** One function bundled with serverless.yml's esbuild options (custom.esbuild). */
const bundleFunction = (entry, outfile, external = []) =>
  build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    platform: "node",
    format: "esm",
    target: "node22",
    mainFields: ["module", "main"],
    outfile,
    external,
    banner: { js: banner },
    logLevel: "silent",
  });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kib = (bytes) => (bytes / 1024).toFixed(0);

function once(args, cwd, flags = nodeFlags) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...flags, ...args], { cwd, env: { PATH: process.env.PATH } });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} failed in ${cwd}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function zipSize(dir, files) {
  const zip = join(dir, "out.zip");
  const r = spawnSync("python3", ["-m", "zipfile", "-c", zip, ...files], { cwd: dir });
  if (r.status !== 0) throw new Error(`cannot zip: ${r.stderr}`);
  return statSync(zip).size;
}

const work = mkdtempSync(join(tmpdir(), "cold-start-"));
const variants = [];
let baseTree;
try {
  if (BASELINE) {
    // A worktree of REF sharing this checkout's node_modules (same lockfile era).
    baseTree = join(work, "baseline");
    const r = spawnSync("git", ["worktree", "add", "--detach", baseTree, BASELINE], { cwd: root });
    if (r.status !== 0) throw new Error(`cannot check out ${BASELINE}: ${r.stderr}`);
    symlinkSync(join(root, "node_modules"), join(baseTree, "node_modules"));
  }
  for (const fn of functions) {
    // As deployed: the package osls built.
    const zip = join(root, ".serverless", `${fn}.zip`);
    const dir = join(work, `${fn}-bundled`);
    if (spawnSync("python3", ["-m", "zipfile", "-e", zip, dir]).status !== 0) {
      throw new Error(`cannot unzip ${zip}: run npm run package first`);
    }
    variants.push({
      fn,
      variant: "SDK bundled (deployed)",
      zip: statSync(zip).size,
      js: statSync(join(dir, "functions", `${fn}.mjs`)).size,
      cwd: dir,
      file: `./functions/${fn}.mjs`,
      times: [],
    });

    // SDK external: built next to node_modules so the SDK resolves from there.
    const extDir = join(root, ".esbuild-measure", fn);
    mkdirSync(extDir, { recursive: true });
    const outfile = join(extDir, `${fn}.mjs`);
    await bundleFunction(join(root, "functions", `${fn}.ts`), outfile, ["@aws-sdk/*", "@smithy/*"]);
    variants.push({
      fn,
      variant: "SDK external (runtime's)",
      zip: zipSize(extDir, [`${fn}.mjs`, `${fn}.mjs.map`]),
      js: statSync(outfile).size,
      cwd: root,
      file: outfile,
      times: [],
    });
  }

  if (baseTree) {
    for (const fn of functions) {
      const dir = join(baseTree, ".bench-out");
      const outfile = join(dir, `${fn}.mjs`);
      await bundleFunction(join(baseTree, "functions", `${fn}.ts`), outfile);
      variants.push({
        fn,
        variant: `baseline ${BASELINE}, SDK bundled`,
        zip: zipSize(dir, [`${fn}.mjs`, `${fn}.mjs.map`]),
        js: statSync(outfile).size,
        cwd: dir,
        file: outfile,
        times: [],
      });
    }
    variants.sort((a, b) => functions.indexOf(a.fn) - functions.indexOf(b.fn));
  }

  if (COMPARE_SM) {
    for (const v of variants.filter((x) => x.variant === "SDK bundled (deployed)")) {
      variants.push({ ...v, variant: "SDK bundled (deployed), --enable-source-maps", flags: ["--enable-source-maps"], times: [], bare: [] });
    }
    variants.sort((a, b) => functions.indexOf(a.fn) - functions.indexOf(b.fn));
  }
  const bare = [];
  for (let i = 0; i < RUNS; i++) {
    bare.push(once(["-e", "0"], root));
    for (const v of variants) {
      // A variant with its own flags is measured against a bare start with the same flags.
      if (v.flags) v.bare.push(once(["-e", "0"], root, v.flags));
      v.times.push(once(["--input-type=module", "-e", `await import(${JSON.stringify(v.file)})`], v.cwd, v.flags ?? nodeFlags));
    }
  }
  const bareMs = median(bare);

  const lines = [
    `node ${process.version} ${process.arch}, ${nodeFlags.join(" ")}; bare \`node -e 0\`: ${bareMs.toFixed(1)} ms (median of ${RUNS})`,
    "",
    "| function | variant | zip KiB | bundle .mjs KiB | module load ms (median import - bare) |",
    "|---|---|---:|---:|---:|",
    ...variants.map(
      (v) => `| ${v.fn} | ${v.variant} | ${kib(v.zip)} | ${kib(v.js)} | ${(median(v.times) - (v.bare ? median(v.bare) : bareMs)).toFixed(1)} |`,
    ),
  ];
  console.log(lines.join("\n"));
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, lines.join("\n") + "\n");
} finally {
  if (baseTree) spawnSync("git", ["worktree", "remove", "--force", baseTree], { cwd: root });
  rmSync(join(root, ".esbuild-measure"), { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
