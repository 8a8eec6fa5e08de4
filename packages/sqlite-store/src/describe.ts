import { wellFormed } from './labels.js';
import { isMetricType, KINDS, type MetricType, modeOf } from './merge.js';
import type { MultiprocessMode } from './modes.js';
import { metricInfo, type PromMetric } from './prom-internals.js';

export type { MetricType } from './merge.js';

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

/** Describe a metric, or return an error message when its configuration cannot be stored. */
export function describeMetric(metric: PromMetric): MetricDef | string {
  const info = metricInfo(metric);
  const type = info.type;
  if (!isMetricType(type)) return `unsupported metric type ${JSON.stringify(type)}`;
  const labelNames = [...info.labelNames];
  const buckets = type === 'histogram' ? [...info.upperBounds] : undefined;
  let mode: MultiprocessMode | undefined;
  if (KINDS[type].storage === 'per-process') {
    const m = modeOf(info.multiprocessMode, info.aggregator);
    if (typeof m !== 'string') return m.error;
    mode = m;
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
  return KINDS[def.type].vectorLength(bucketKeys(def).length);
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
