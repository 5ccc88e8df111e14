/**
 * The house rules of the layout (docs/design.md, STYLE.md), checked on the
 * source: which folder may import which, no run-time import cycle in lib/,
 * file sizes. Imports are read with the TypeScript parser, not executed.
 *
 * The one unit test that touches the file system: it reads the repository's
 * own .ts sources (as `tsc` does), nothing else, and takes well under a second.
 *
 * A type-only import (`import type`, `import { type A }` with every name a
 * type, `export type ... from`, `import("x").T` in a type) is erased when
 * the code is bundled, so it does not count as a run-time import; it does
 * count for "nothing below the wiring imports lib/platform", where even a
 * type ties a lower layer to the wiring.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");

interface Import {
  /** The specifier as written. */
  spec: string;
  /** Repository-relative path of the file it names (posix), or null for a package or a node: module. */
  target: string | null;
  typeOnly: boolean;
}

/** Every source file under `dir` (repository-relative, posix separators): .ts, and with `js` also .js/.mjs/.cjs. */
function sources(dir: string, js = false): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const p = join(abs, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(p);
      } else if ((js ? /\.([mc]?ts|[mc]?js)$/ : /\.[mc]?ts$/).test(e.name) && !e.name.endsWith(".d.ts")) out.push(posix(relative(ROOT, p)));
    }
  };
  walk(join(ROOT, dir));
  return out.sort();
}

const posix = (p: string) => p.split(sep).join("/");
const text = new Map<string, string>();
const read = (file: string) => {
  let t = text.get(file);
  if (t === undefined) text.set(file, (t = readFileSync(join(ROOT, file), "utf8")));
  return t;
};

/** The file a relative specifier names, the way the bundler resolves it (`x` -> x.ts or x/index.ts). */
function resolveSpec(from: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const base = posix(relative(ROOT, resolve(ROOT, dirname(from), spec)));
  const known = (f: string) => {
    try {
      read(f);
      return true;
    } catch {
      return false;
    }
  };
  for (const f of [base, `${base}.ts`, `${base}/index.ts`, base.replace(/\.js$/, ".ts")]) if (known(f)) return f;
  // Unresolvable: keep the path so a rule about folders still sees where it points.
  return base;
}

const parsed = new Map<string, Import[]>();

/** Every import, re-export and dynamic import of a file. */
function importsOf(file: string): Import[] {
  const cached = parsed.get(file);
  if (cached) return cached;
  const kind = /\.[mc]?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true, kind);
  const found: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => found.push({ spec, target: resolveSpec(file, spec), typeOnly });
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      // `import "x"` runs x; `import type ...` and `import { type A, type B }` do not.
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (c.name === undefined &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) add(e.text, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(arg.literal.text, true);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [a] = node.arguments;
      if (a && ts.isStringLiteralLike(a)) add(a.text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  parsed.set(file, found);
  return found;
}

const within = (path: string | null, folder: string) => path !== null && (path === folder || path.startsWith(`${folder}/`));
const lines = (file: string) => read(file).split("\n").length - (read(file).endsWith("\n") ? 1 : 0);

/** `file -> spec` for each import of `files` that `bad` picks. */
function offending(files: string[], bad: (i: Import, file: string) => boolean): string[] {
  return files.flatMap((f) => importsOf(f).filter((i) => bad(i, f)).map((i) => `${f} -> ${i.spec}`));
}

/** Cycles among `files` over run-time imports, each as `a -> b -> ... -> a`, one per strongly connected group. */
function runtimeCycles(files: string[]): string[] {
  const inSet = new Set(files);
  const edges = new Map(
    files.map((f) => [f, [...new Set(importsOf(f).filter((i) => !i.typeOnly && i.target !== null && inSet.has(i.target)).map((i) => i.target!))]]),
  );
  // Tarjan's strongly connected components; any component of two or more files (or a self-import) is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || edges.get(v)!.includes(v)) groups.push(group);
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  // Name one concrete loop through each group, so the failure says where to cut.
  return groups.map((group) => {
    const members = new Set(group);
    const start = group.sort()[0]!;
    const path = [start];
    const seen = new Set([start]);
    for (let at = start; ; ) {
      const next = edges.get(at)!.find((n) => members.has(n) && (n === start || !seen.has(n))) ?? start;
      path.push(next);
      if (next === start) break;
      seen.add(next);
      at = next;
    }
    return path.join(" -> ");
  });
}

describe("house rules of the layout", () => {
  const lib = sources("lib");

  it("reads the sources it checks (the parser sees imports of every kind)", () => {
    // Guards the checks below against passing on nothing: lib/ has files, and
    // the parser tells run-time from type-only imports.
    expect(lib.length).toBeGreaterThan(20);
    const kinds = (file: string) => new Set(importsOf(file).map((i) => i.typeOnly));
    expect(lib.some((f) => kinds(f).has(true))).toBe(true);
    expect(lib.some((f) => kinds(f).has(false))).toBe(true);
    // ...and resolves relative specifiers to the files they name.
    expect(lib.some((f) => importsOf(f).some((i) => i.target !== null && lib.includes(i.target)))).toBe(true);
  });

  it("functions/ import only lib/app and lib/platform at run time", () => {
    const allowed = (i: Import) => i.typeOnly || within(i.target, "lib/app") || within(i.target, "lib/platform");
    expect(offending(sources("functions"), (i) => !allowed(i))).toEqual([]);
  });

  it("no folder of lib/ but lib/platform imports lib/platform (type imports included)", () => {
    const below = lib.filter((f) => !within(f, "lib/platform"));
    expect(offending(below, (i) => within(i.target, "lib/platform"))).toEqual([]);
  });

  it("lib/ has no run-time import cycle (type-only imports excluded)", () => {
    expect(runtimeCycles(lib)).toEqual([]);
  });

  it("no file in lib/ is over 400 lines, none in lib/http over 300", () => {
    const over = lib
      .map((f) => ({ f, n: lines(f), max: within(f, "lib/http") ? 300 : 400 }))
      .filter(({ n, max }) => n > max)
      .map(({ f, n, max }) => `${f}: ${n} lines (max ${max})`);
    expect(over).toEqual([]);
  });

  it("scripts/ and infra/dev/ import nothing from test/", () => {
    const tools = [...sources("scripts", true), ...sources("infra/dev", true)];
    expect(tools.length).toBeGreaterThan(5);
    expect(offending(tools, (i) => within(i.target, "test"))).toEqual([]);
  });
});

describe("the checks themselves", () => {
  // The rules above pass on an empty or misparsed tree too; these show each
  // detector finds what it is for, on sources written here.
  const parse = (source: string) => {
    text.set("lib/x/probe.ts", source);
    try {
      return importsOf("lib/x/probe.ts").map((i) => [i.spec, i.target, i.typeOnly]);
    } finally {
      text.delete("lib/x/probe.ts");
      parsed.delete("lib/x/probe.ts");
    }
  };

  it("tells type-only imports from run-time ones", () => {
    expect(
      parse(
        [
          'import type { A } from "../a";',
          'import { type B, type C } from "../b";',
          'import { type D, E } from "../c";',
          'import F from "../d";',
          'import "../e";',
          'export type { G } from "../f";',
          'export { H } from "../g";',
          'type I = import("../h").I;',
          'const j = () => import("../i");',
          'import * as z from "zod";',
        ].join("\n"),
      ),
    ).toEqual([
      ["../a", "lib/a", true],
      ["../b", "lib/b", true],
      ["../c", "lib/c", false],
      ["../d", "lib/d", false],
      ["../e", "lib/e", false],
      ["../f", "lib/f", true],
      ["../g", "lib/g", false],
      ["../h", "lib/h", true],
      ["../i", "lib/i", false],
      ["zod", null, false],
    ]);
  });

  it("finds a run-time cycle and ignores one closed by a type import", () => {
    const files = { "lib/q/a.ts": 'import { b } from "./b";', "lib/q/b.ts": 'import { c } from "./c";', "lib/q/c.ts": 'import { a } from "./a";', "lib/q/t.ts": 'import type { a } from "./a";' };
    const typed = { ...files, "lib/q/c.ts": 'import type { a } from "./a";' };
    const run = (set: Record<string, string>) => {
      const forget = () => {
        for (const f of Object.keys(set)) {
          text.delete(f);
          parsed.delete(f);
        }
      };
      for (const [f, s] of Object.entries(set)) text.set(f, s);
      try {
        return runtimeCycles(Object.keys(set));
      } finally {
        forget();
      }
    };
    expect(run(files)).toEqual(["lib/q/a.ts -> lib/q/b.ts -> lib/q/c.ts -> lib/q/a.ts"]);
    expect(run(typed)).toEqual([]);
  });
});
