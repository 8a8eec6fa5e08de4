/**
 * Every read of prom-client's private state, in one place (issue 13 §3).
 *
 * prom-client 15 has no synchronous public accessor for a metric's values, and the exit flush must be
 * synchronous. So the writer reads what prom-client 15 keeps internally: `metric.hashMap` (an object of
 * entries keyed by a label hash), the entry shapes (`value`; `bucketValues`, `sum`, `count`),
 * `metric.upperBounds`, `metric.sortedLabelNames` and `registry._defaultLabels`. None of it is public, and
 * prom-client's main branch already replaced `hashMap` with a `LabelMap` with private storage.
 *
 * `checkPromClient()` verifies these shapes once, at `attach()`, against scratch metrics of the installed
 * prom-client; `internalEntries()` verifies each metric at first sight. A metric that does not pass is read
 * through prom-client's public, asynchronous `metric.get()` instead (`publicEntries()`), so a newer
 * prom-client degrades to values written one read later, never to flushes that fail or store nothing.
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import * as promClient from 'prom-client';
import { isTrap } from './change-log.js';

/** The parts of a prom-client metric object the store reads. */
export interface PromMetric {
  name: string;
  help: string;
  type?: string;
  labelNames?: readonly string[];
  upperBounds?: readonly number[];
  buckets?: readonly number[];
  sortedLabelNames?: readonly string[];
  multiprocessMode?: unknown;
  aggregator?: string;
  hashMap?: unknown;
  collect?: () => unknown;
  get?: () => Promise<PublicMetric> | PublicMetric;
  reset?: (...args: unknown[]) => unknown;
  remove?: (...args: unknown[]) => unknown;
  zero?: (...args: unknown[]) => unknown;
}

/** One series as prom-client 15 keeps it (counters and gauges: value; histograms and summaries: the rest). */
export interface PromEntry {
  labels: Record<string, string | number>;
  value?: number;
  sum?: number;
  count?: number;
  bucketValues?: Record<string, number>;
  /** A counter's exemplar (`enableExemplars: true`). */
  exemplar?: PromExemplar;
  /** A histogram's exemplar per bucket, keyed like `bucketValues`, `-1` for +Inf (`enableExemplars: true`). */
  bucketExemplars?: Record<string, PromExemplar | null | undefined>;
}

/** An exemplar as prom-client 15 keeps it (one object per slot, updated in place by each inc/observe). */
export interface PromExemplar {
  labelSet: unknown;
  value: number;
  /** Seconds since the epoch (`Date.now() / 1000`). */
  timestamp: number;
}

/** What prom-client's public `metric.get()` returns. */
interface PublicMetric {
  name: string;
  type?: string;
  values?: Array<{ labels?: Record<string, string | number>; value: number; metricName?: string }>;
}

/** Configuration-level facts of a metric (set from its constructor options; `upperBounds` is private). */
export interface MetricInfo {
  name: string;
  help: string;
  type: string | undefined;
  labelNames: readonly string[];
  upperBounds: readonly number[];
  multiprocessMode: unknown;
  aggregator: string | undefined;
}

export function metricInfo(metric: PromMetric): MetricInfo {
  return {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    labelNames: metric.labelNames ?? [],
    upperBounds: metric.upperBounds ?? metric.buckets ?? [],
    multiprocessMode: metric.multiprocessMode,
    aggregator: metric.aggregator,
  };
}

/** The version of the installed prom-client, for messages ("unknown" when its package.json cannot be read). */
export function promClientVersion(): string {
  try {
    return String((createRequire(import.meta.url)('prom-client/package.json') as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

/** The metrics and the registry of a prom-client-compatible module (the installed one by default). */
export interface PromClientLike {
  Registry: new () => Registry;
  Counter: new (config: object) => unknown;
  Gauge: new (config: object) => unknown;
  Histogram: new (config: object) => unknown;
  Summary: new (config: object) => unknown;
}

let installedCheck: string | undefined | null = null;

/**
 * Check, with scratch metrics registered nowhere, that prom-client keeps its values where this module reads
 * them. Returns undefined when it does, else what differs. The installed prom-client is checked once.
 */
export function checkPromClient(lib: PromClientLike = promClient as unknown as PromClientLike): string | undefined {
  if (lib === (promClient as unknown as PromClientLike) && installedCheck !== null) return installedCheck;
  let problem: string | undefined;
  try {
    problem = checkShapes(lib);
  } catch (err) {
    problem = `scratch metrics failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (lib === (promClient as unknown as PromClientLike)) installedCheck = problem;
  return problem;
}

function checkShapes(lib: PromClientLike): string | undefined {
  const registers: unknown[] = [];
  const counter = new lib.Counter({ name: 'kci_scratch_c', help: 'x', labelNames: ['b', 'a'], registers }) as {
    inc(labels: object, v: number): void;
  } & PromMetric;
  counter.inc({ b: 'y', a: 'x' }, 2);
  const entries = internalEntries(counter);
  if (!entries) return 'metric.hashMap is not an object of entries';
  const key = entryKey(counter, [{ b: 'y', a: 'x' }]);
  const c = key === undefined ? undefined : entries[key];
  if (c?.value !== 2 || c.labels?.a !== 'x') return 'counter entries are not { value, labels } keyed by label hash';
  const histogram = new lib.Histogram({ name: 'kci_scratch_h', help: 'x', buckets: [1, 2], registers }) as {
    observe(v: number): void;
  } & PromMetric;
  histogram.observe(1.5);
  const h = internalEntries(histogram)?.[''];
  if (JSON.stringify(histogram.upperBounds) !== '[1,2]') return 'histogram.upperBounds is not the bucket list';
  if (h?.count !== 1 || h.sum !== 1.5 || h.bucketValues?.['2'] !== 1 || h.bucketValues?.['1'] !== 0) {
    return 'histogram entries are not { bucketValues, sum, count }';
  }
  const summary = new lib.Summary({ name: 'kci_scratch_s', help: 'x', registers }) as {
    observe(v: number): void;
  } & PromMetric;
  summary.observe(3);
  const s = internalEntries(summary)?.[''];
  if (s?.count !== 1 || s.sum !== 3) return 'summary entries are not { sum, count }';
  const gauge = new lib.Gauge({ name: 'kci_scratch_g', help: 'x', registers }) as { set(v: number): void } & PromMetric;
  gauge.set(4);
  if (internalEntries(gauge)?.['']?.value !== 4) return 'gauge entries are not { value }';
  const problem = checkExemplarShapes(lib, registers);
  if (problem) return problem;
  const registry = new lib.Registry();
  registry.setDefaultLabels({ k: 'v' });
  if (defaultLabelsOf(registry)?.k !== 'v') return 'registry._defaultLabels does not hold the default labels';
  return undefined;
}

/** Exemplars (issue 16 §1): where a counter and a histogram made with `enableExemplars: true` keep them. */
function checkExemplarShapes(lib: PromClientLike, registers: unknown[]): string | undefined {
  const exemplarLabels = { trace_id: 'kci' };
  const counter = new lib.Counter({ name: 'kci_scratch_ce', help: 'x', enableExemplars: true, registers }) as {
    inc(o: object): void;
  } & PromMetric;
  counter.inc({ value: 2, exemplarLabels });
  const c = internalEntries(counter)?.['']?.exemplar;
  if (c?.labelSet !== exemplarLabels || c.value !== 2 || typeof c.timestamp !== 'number') {
    return 'counter entries do not keep their exemplar as { labelSet, value, timestamp }';
  }
  const histogram = new lib.Histogram({
    name: 'kci_scratch_he',
    help: 'x',
    buckets: [1],
    enableExemplars: true,
    registers,
  }) as { observe(o: object): void } & PromMetric;
  histogram.observe({ value: 0.5, exemplarLabels });
  histogram.observe({ value: 5, exemplarLabels });
  const h = internalEntries(histogram)?.['']?.bucketExemplars;
  if (h?.['1']?.value !== 0.5 || h['-1']?.value !== 5) {
    return 'histogram entries do not keep their exemplars in bucketExemplars by bound (-1 for +Inf)';
  }
  return undefined;
}

/** A metric's entries as prom-client 15 keeps them, or undefined when it does not keep them that way. */
export function internalEntries(metric: PromMetric): Record<string, PromEntry> | undefined {
  const map = metric.hashMap;
  if (map === null || typeof map !== 'object' || Array.isArray(map) || map instanceof Map) return undefined;
  const proto = Object.getPrototypeOf(map) as object | null;
  if (proto !== Object.prototype && proto !== null && !isTrap(proto)) return undefined;
  for (const key in map) {
    const e = (map as Record<string, PromEntry | undefined>)[key];
    if (!e || typeof e.labels !== 'object') return undefined;
    break; // the shape of one entry is checked; every entry of a metric is made by the same code
  }
  return map as Record<string, PromEntry>;
}

/**
 * The entries of a metric already checked by internalEntries() (at first sight): no per-flush check, since
 * enumerating a hashMap's keys to look at one entry costs as much as the idle flush of its series.
 */
export function checkedEntries(metric: PromMetric): Record<string, PromEntry> | undefined {
  const map = metric.hashMap;
  return map !== null && typeof map === 'object' ? (map as Record<string, PromEntry>) : undefined;
}

/** The registry's default labels (prom-client keeps no public getter), or undefined when there are none. */
export function defaultLabelsOf(registry: Registry): Record<string, unknown> | undefined {
  const defaults = (registry as unknown as { _defaultLabels?: unknown })._defaultLabels;
  if (defaults === null || typeof defaults !== 'object') return undefined;
  for (const _ in defaults) return defaults as Record<string, unknown>;
  return undefined;
}

/**
 * The hashMap key of the series `metric.remove(...args)` names (prom-client 15's `hashObject` over the
 * sorted label names), or undefined when the arguments cannot name one.
 */
export function entryKey(metric: PromMetric, args: unknown[]): string | undefined {
  const names = metric.labelNames ?? [];
  let labels: Record<string, unknown>;
  if (args[0] !== null && typeof args[0] === 'object') labels = args[0] as Record<string, unknown>;
  else if (args.length === names.length) {
    labels = {};
    names.forEach((n, i) => {
      labels[n] = args[i];
    });
  } else return undefined;
  let key = '';
  for (const name of metric.sortedLabelNames ?? [...names].sort()) {
    const v = labels[name];
    if (v !== undefined) key += `${name}:${String(v)},`;
  }
  return key;
}

/** A counter's or gauge's value. */
export const entryValue = (e: PromEntry): number => e.value ?? 0;
/** A histogram's or summary's observation count and sum. */
export const entryCount = (e: PromEntry): number => e.count ?? 0;
export const entrySum = (e: PromEntry): number => e.sum ?? 0;
export const entryLabels = (e: PromEntry): Record<string, string | number> => e.labels;

/**
 * Fill `out` with a series' vector: histogram buckets (non-cumulative, in `bucketKeys` order), sum, count;
 * or summary sum, count. Writing into a caller's array keeps a flush free of per-series allocations.
 */
export function fillVector(
  isSummary: boolean,
  bucketKeys: readonly string[],
  entry: PromEntry,
  out: Float64Array,
): Float64Array {
  if (isSummary) {
    out[0] = entry.sum ?? 0;
    out[1] = entry.count ?? 0;
    return out;
  }
  const n = bucketKeys.length;
  const bucketValues = entry.bucketValues ?? {};
  for (let i = 0; i < n; i++) out[i] = bucketValues[bucketKeys[i] as string] ?? 0;
  out[n] = entry.sum ?? 0;
  out[n + 1] = entry.count ?? 0;
  return out;
}

/**
 * A metric's series read through prom-client's public API (`await metric.get()`), in the entry shape above,
 * keyed by their sorted label pairs. Histogram buckets come back cumulative with an `le` label and are made
 * non-cumulative again; summary quantiles are left out (the store never merges them).
 */
export async function publicEntries(metric: PromMetric): Promise<Record<string, PromEntry>> {
  if (typeof metric.get !== 'function') return {};
  const got = await metric.get();
  const type = got.type ?? metric.type;
  const out: Record<string, PromEntry> = {};
  const seriesOf = (labels: Record<string, string | number>): PromEntry => {
    const key = Object.keys(labels)
      .sort()
      .map((k) => `${k}\u0000${String(labels[k])}`)
      .join('\u0001');
    let e = out[key];
    if (!e) {
      e = { labels };
      out[key] = e;
    }
    return e;
  };
  const name = got.name ?? metric.name;
  const previous = new Map<PromEntry, number>();
  for (const v of got.values ?? []) {
    const all = v.labels ?? {};
    if (type === 'counter' || type === 'gauge') {
      seriesOf(all).value = v.value;
      continue;
    }
    const { le, quantile, ...labels } = all;
    const suffix = (v.metricName ?? name).slice(name.length);
    if (suffix === '_sum') seriesOf(labels).sum = v.value;
    else if (suffix === '_count') seriesOf(labels).count = v.value;
    else if (type === 'histogram' && suffix === '_bucket' && le !== undefined && String(le) !== '+Inf') {
      const e = seriesOf(labels);
      e.bucketValues ??= {};
      const cumulative = v.value;
      e.bucketValues[String(Number(le))] = cumulative - (previous.get(e) ?? 0);
      previous.set(e, cumulative);
    }
    void quantile;
  }
  return out;
}
