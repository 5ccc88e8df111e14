/**
 * The CLI is publishable as its own package: `npm pack` of cli/, installed
 * into an empty directory (offline: it has no dependencies), runs
 * `taskwatch --help` and `--version`; and `npx taskwatch` still works in the repository.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const npm = (args: string[], cwd: string) => execFileSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } });

describe("the CLI package", () => {
  it("npm pack, installed into an empty directory, runs taskwatch --help", () => {
    const out = mkdtempSync(join(tmpdir(), "cli-pack-"));
    const tgz = npm(["pack", "--pack-destination", out, "--silent"], join(root, "cli")).trim().split("\n").at(-1)!;
    const app = join(out, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "empty", version: "1.0.0", private: true }));
    npm(["install", "--offline", join(out, tgz)], app);
    const help = execFileSync(join(app, "node_modules", ".bin", "taskwatch"), ["--help"], { encoding: "utf8" });
    expect(help).toMatch(/^taskwatch: watch APIG async import\/export tasks/);
    expect(help).toContain("taskwatch lint FILE");
    const version = execFileSync(join(app, "node_modules", ".bin", "taskwatch"), ["--version"], { encoding: "utf8" }).trim();
    expect(version).toBe(JSON.parse(readFileSync(join(root, "cli", "package.json"), "utf8")).version);
  }, 120_000);

  it("npx taskwatch still works in the repository", () => {
    expect(execFileSync("npx", ["taskwatch", "--help"], { cwd: root, encoding: "utf8" })).toContain("taskwatch lint FILE");
  }, 60_000);
});
