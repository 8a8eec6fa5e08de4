import { DEFAULT_MULTIPROCESS_MODE, MULTIPROCESS_MODES, type MultiprocessMode } from './modes.js';
import { wellFormed } from './labels.js';
import { metricInfo, type PromMetric } from './prom-internals.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** What the store needs to know of a prom-client metric to merge it, and to detect a changed definition. */
export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  labelNames: readonly string[];
  /** Histogram upper bounds, without +Inf. */
  buckets: readonly number[] | undefined;
  /** Gauges only. */
  mode: MultiprocessMode | undefined;
  /** Type, labels, buckets and mode: a different signature under the same name is a changed definition. */
  signature: string;
}

/**
 * prom-client's cluster `aggregator` setting, read as a mode when `multiprocessMode` is not set, so
 * collectDefaultMetrics() merges meaningfully: version info once (`first`), event-loop lag worst-case
 * (`average`/`max` become the max over live processes), the earliest start time (`omit`).
 */
const FROM_AGGREGATOR: Record<string, MultiprocessMode> = {
  sum: 'livesum',
  first: 'livemax',
  min: 'livemin',
  max: 'livemax',
  average: 'livemax',
  omit: 'livemin',
};

/** Describe a metric, or return an error message when its configuration cannot be stored. */
export function describeMetric(metric: PromMetric): MetricDef | string {
  const info = metricInfo(metric);
  const type = info.type;
  if (type !== 'counter' && type !== 'gauge' && type !== 'histogram' && type !== 'summary') {
    return `unsupported metric type ${JSON.stringify(type)}`;
  }
  const labelNames = [...info.labelNames];
  const buckets = type === 'histogram' ? [...info.upperBounds] : undefined;
  let mode: MultiprocessMode | undefined;
  if (type === 'gauge') {
    const raw = info.multiprocessMode;
    if (raw === undefined) mode = FROM_AGGREGATOR[info.aggregator ?? 'sum'] ?? DEFAULT_MULTIPROCESS_MODE;
    else if (MULTIPROCESS_MODES.includes(raw as MultiprocessMode)) mode = raw as MultiprocessMode;
    else return `invalid multiprocessMode ${JSON.stringify(raw)}: expected one of ${MULTIPROCESS_MODES.join(', ')}`;
  }
  const signature = JSON.stringify([type, labelNames, buckets ?? null, mode ?? null]);
  return { name: info.name, type, help: wellFormed(String(info.help)), labelNames, buckets, mode, signature };
}

/** Explain how two signatures differ, for the conflict log and the aggregator's metrics. */
export function explainConflict(stored: string, mine: string): string {
  const [t1, l1, b1, m1] = JSON.parse(stored) as unknown[];
  const [t2, l2, b2, m2] = JSON.parse(mine) as unknown[];
  const parts: string[] = [];
  const diff = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) parts.push(`${what} ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  };
  diff('type', t1, t2);
  diff('labels', l1, l2);
  diff('buckets', b1, b2);
  diff('mode', m1, m2);
  return parts.join('; ');
}

/** Number of values in a series' vector: histogram buckets (non-cumulative), sum, count; or summary sum, count. */
export function vectorLength(def: MetricDef): number {
  return def.type === 'summary' ? 2 : bucketKeys(def).length + 2;
}

// prom-client keys bucketValues by the bound itself; stringifying 11 numbers per series and flush showed
// up as a third of a flush's CPU, so the keys are computed once per definition.
const keyCache = new WeakMap<MetricDef, string[]>();
export function bucketKeys(def: MetricDef): string[] {
  let keys = keyCache.get(def);
  if (!keys) {
    keys = (def.buckets ?? []).map(String);
    keyCache.set(def, keys);
  }
  return keys;
}
