/**
 * The {@link Metrics} port on the Powertools for AWS Lambda Metrics: values
 * are buffered per invocation and flushed as CloudWatch Embedded Metric
 * Format lines, which CloudWatch turns into metrics with no API call and no
 * extra permission. Names and dimensions: `app/telemetry.ts`.
 */
import { Metrics as PowertoolsMetrics, MetricUnit as Unit } from "@aws-lambda-powertools/metrics";
import type { MetricDims, MetricUnit, Metrics } from "../app/ports";
import { METRIC_NAMESPACE } from "../app/telemetry";
import type { LambdaLogger } from "./log";

export type { Metrics };

export interface MetricsOptions {
  /** The `service` dimension of every value (`apig-taskwatch-prod`). */
  serviceName: string;
  /** Where EMF lines go; default stdout. */
  sink?: (line: string) => void;
  /** Gets Powertools' own complaints (at debug level). */
  log?: LambdaLogger;
}

/** {@link Metrics} whose buffer the invocation's owner flushes. */
export interface FlushableMetrics extends Metrics {
  /** Write everything recorded since the last flush, one EMF line per dimension set; nothing when empty. */
  flush(): void;
}

// EMF takes at most 100 values of one metric in one line, and Powertools
// writes a line to stdout by itself the moment a metric reaches 100, past our
// sink: stay one below.
const MAX_VALUES = 99;

interface Group {
  dims: MetricDims;
  counts: Map<string, number>;
  observed: Map<string, { unit: MetricUnit; values: number[] }>;
}

/**
 * One dimension set's key, whatever the order its names came in: counted on
 * every poll, so a loop over the names rather than entries, sort and JSON.
 */
export function groupKey(dims: MetricDims): string {
  const names = Object.keys(dims);
  if (names.length > 1) names.sort();
  let key = "";
  // JSON-quoted, so no name or value can end early and run into the next.
  for (const n of names) key += `${JSON.stringify(n)}:${JSON.stringify(dims[n])},`;
  return key;
}

/** Powertools-backed {@link FlushableMetrics}. */
export function createMetrics(opts: MetricsOptions): FlushableMetrics {
  const sink = opts.sink ?? ((line: string) => void process.stdout.write(line + "\n"));
  const debug = (...args: unknown[]) => opts.log?.debug("metrics_warning", { detail: String(args[0]).slice(0, 300) });
  const pt = new PowertoolsMetrics({
    namespace: METRIC_NAMESPACE,
    serviceName: opts.serviceName,
    logger: { debug, info: debug, warn: debug, error: debug },
  });
  let groups = new Map<string, Group>();
  const group = (dims: MetricDims = {}): Group => {
    const key = groupKey(dims);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { dims: { ...dims }, counts: new Map(), observed: new Map() }));
    return g;
  };

  /** One EMF line for `dims`; a region-dimensioned value is also published without the region. */
  const emit = (dims: MetricDims, add: () => void) => {
    if (Object.keys(dims).length > 0) {
      pt.addDimensions(dims);
      if ("region" in dims) {
        const { region: _, ...rest } = dims;
        // An empty set is `service` alone.
        pt.addDimensions(rest);
      }
    }
    add();
    const emf = pt.serializeMetrics();
    pt.clearMetrics();
    pt.clearDimensions();
    sink(JSON.stringify(emf));
  };

  return {
    count(name, dims, value = 1) {
      const g = group(dims);
      g.counts.set(name, (g.counts.get(name) ?? 0) + value);
    },
    observe(name, value, unit, dims) {
      const g = group(dims);
      const o = g.observed.get(name) ?? { unit, values: [] };
      o.values.push(value);
      g.observed.set(name, o);
    },
    flush() {
      const pending = groups;
      groups = new Map();
      for (const g of pending.values()) {
        const rounds = Math.max(1, ...[...g.observed.values()].map((o) => Math.ceil(o.values.length / MAX_VALUES)));
        for (let i = 0; i < rounds; i++) {
          const counts = i === 0 ? [...g.counts] : [];
          const observed = [...g.observed].map(([n, o]) => [n, o.unit, o.values.slice(i * MAX_VALUES, (i + 1) * MAX_VALUES)] as const);
          if (counts.length === 0 && observed.every(([, , v]) => v.length === 0)) continue;
          emit(g.dims, () => {
            for (const [n, v] of counts) pt.addMetric(n, Unit.Count, v);
            for (const [n, unit, values] of observed) for (const v of values) pt.addMetric(n, Unit[unit], v);
          });
        }
      }
    },
  };
}

/** Metrics that keep nothing, for a process that never flushes (tests, tools). */
export const nullMetrics: Metrics = { count() {}, observe() {} };
