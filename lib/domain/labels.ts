/**
 * A watch's labels: names and values stored exactly as given, whatever the
 * name. Plain objects and `z.record` treat `__proto__` as the prototype and
 * `constructor` as a class marker (the DynamoDB marshaller refuses it), so
 * labels live in null-prototype objects built with `defineProperty`, and the
 * store keeps them as a list of pairs (see `store/item-codec.ts`).
 */
import * as z from "./zod";

/** Label name -> value, in a null-prototype object. */
export type Labels = Record<string, string>;

export const MAX_LABELS = 20;
const NAME = /^[A-Za-z0-9_.:/-]{1,64}$/;
const MAX_VALUE_CHARS = 256;

/** A null-prototype label object from pairs; a later pair wins, as in JSON. */
export function labelsFrom(entries: Iterable<readonly [string, string]>): Labels {
  const out = Object.create(null) as Labels;
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** The pairs of a label object, names sorted (a stable order for comparing and storing). */
export function labelPairs(labels: Labels): Array<[string, string]> {
  return Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]!]);
}

/** Whether two label sets are equal, name by name. */
export function sameLabels(a: Labels, b: Labels): boolean {
  const pa = labelPairs(a);
  const pb = labelPairs(b);
  return pa.length === pb.length && pa.every(([k, v], i) => pb[i]![0] === k && pb[i]![1] === v);
}

/** One label name, as a schema (a PagerDuty `dedup_label`, a subscription's match). */
export const LabelName = z.string().check(z.regex(NAME, "label names are 1-64 of [A-Za-z0-9_.:/-]"));

const isObject = (v: unknown): v is object => typeof v === "object" && v !== null && !Array.isArray(v);

/** Own enumerable string-keyed entries, read without touching the prototype chain. */
function ownEntries(o: object): Array<[string, unknown]> {
  return Object.keys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)?.value]);
}

/** Labels in a registration: 1-64 of `[A-Za-z0-9_.:/-]` a name, up to 256 characters a value, at most 20. */
export const LabelsInput = z.pipe(
  z.custom<object>(isObject, "must be an object of label names to string values"),
  z.transform((o, ctx): Labels => {
    const entries = ownEntries(o);
    if (entries.length > MAX_LABELS) {
      ctx.issues.push({ code: "custom", message: `at most ${MAX_LABELS} labels`, input: o });
      return z.NEVER;
    }
    const out: Array<[string, string]> = [];
    for (const [k, v] of entries) {
      if (!NAME.test(k)) {
        ctx.issues.push({ code: "custom", message: "label names are 1-64 of [A-Za-z0-9_.:/-]", input: k, path: [k] });
      } else if (typeof v !== "string" || v.length > MAX_VALUE_CHARS) {
        ctx.issues.push({ code: "custom", message: `label values are strings of up to ${MAX_VALUE_CHARS} characters`, input: v, path: [k] });
      } else out.push([k, v]);
    }
    return ctx.issues.length > 0 ? z.NEVER : labelsFrom(out);
  }),
);

/** Labels as stored on a watch: a label object, or the list of pairs the item codec writes. */
export const StoredLabels = z.pipe(
  z.union([z.array(z.tuple([z.string(), z.string()])), z.custom<object>(isObject, "labels must be an object")]),
  z.transform((v, ctx): Labels => {
    const entries = Array.isArray(v) ? v : ownEntries(v);
    if (entries.some(([, val]) => typeof val !== "string")) {
      ctx.issues.push({ code: "custom", message: "label values must be strings", input: v });
      return z.NEVER;
    }
    return labelsFrom(entries as Array<[string, string]>);
  }),
);
