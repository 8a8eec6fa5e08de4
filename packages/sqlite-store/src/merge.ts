/**
 * How the values of several processes become one merged value: every rule in one place (issue 15), as
 * client_python's `multiprocess.py` and prom-client's `metricAggregators.js` keep theirs. The writer
 * (writer.ts), the fold of dead processes (gc.ts), its SQL (statements.ts), the scrape (render.ts) and the
 * metric description (describe.ts) look their metric kind or gauge mode up here.
 *
 * - Counters, histograms and summaries are summed: each process adds what it recorded since its last
 *   flush to one merged row per series, so a dead process needs nothing at fold time and its totals stay.
 * - Gauges keep one value per process, combined at scrape time by the gauge's `multiprocessMode`; at fold
 *   time a dead process's last value is merged into the series' retired value, or forgotten.
 */
import type { WriterView } from './gc.js';
import { labelNamesOf } from './labels.js';
import { DEFAULT_MULTIPROCESS_MODE, MULTIPROCESS_MODES, type MultiprocessMode } from './modes.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** How a metric kind's values are stored and merged. */
export interface KindMerge {
  /**
   * `sum`: each process adds its increments to one merged number per series (`series.value`);
   * `vector-sum`: it adds its element-wise delta to one merged vector per series (`series.vector`, see
   * vector-codec.ts); `per-process`: each process keeps its own value (`gauges`), merged by mode at scrape.
   */
  storage: 'sum' | 'vector-sum' | 'per-process';
  /** Number of values in a series' vector (vector-sum only), from the histogram's finite bucket count. */
  vectorLength(buckets: number): number;
}

const noVector = () => 0;

export const KINDS: Readonly<Record<MetricType, KindMerge>> = {
  counter: { storage: 'sum', vectorLength: noVector },
  // Non-cumulative bucket counts, then _sum, then _count.
  histogram: { storage: 'vector-sum', vectorLength: (buckets) => buckets + 2 },
  // _sum and _count only: quantiles cannot be merged across processes.
  summary: { storage: 'vector-sum', vectorLength: () => 2 },
  gauge: { storage: 'per-process', vectorLength: noVector },
};

/** Whether this store can merge metrics of prom-client's type `type`. */
export function isMetricType(type: unknown): type is MetricType {
  return typeof type === 'string' && Object.hasOwn(KINDS, type);
}

/** A process's value of a gauge series, as read for the scrape (statements.ts `readGaugesRange`; NULL is NaN). */
export type GaugeRow = [seriesId: number, writerId: number, value: number | null, updatedAt: number];

/** What the series' row holds of processes that are gone (folded by gc.ts), when any was folded. */
export interface Retired {
  value: number;
  at: number;
}

/**
 * The statements that fold a dead process's last value `@value` (written at `@at`) into a gauge series'
 * retired value: the new `series.value` as SQL over the row (statements.ts makes one UPDATE of each).
 * The first fold replaces the row's 0 (`retired_at` is NULL until then).
 */
export const RETIRE_SQL = {
  retireSum: 'CASE WHEN retired_at IS NULL THEN @value ELSE value + @value END',
  retireMin: 'CASE WHEN retired_at IS NULL THEN @value ELSE min(value, @value) END',
  retireMax: 'CASE WHEN retired_at IS NULL THEN @value ELSE max(value, @value) END',
  retireRecent: 'CASE WHEN retired_at IS NULL OR @at >= retired_at THEN @value ELSE value END',
} as const;

export type RetireStatement = keyof typeof RETIRE_SQL;

export interface GaugeMode {
  /** Only processes alive at scrape time count; a dead process's value is left out (and forgotten at fold). */
  liveOnly: boolean;
  /** One sample per process, labelled with its pid (see processLabel), instead of one merged sample. */
  perProcess: boolean;
  /**
   * The merged value of one series: `values` of the processes that count, `retired` what dead ones left
   * (never given to a liveOnly mode); undefined when nothing reports it (the sample is left out).
   */
  combine(values: readonly GaugeRow[], retired: Retired | undefined): number | undefined;
  /** How fold time (gc.ts) keeps a dead process's last value in the series' retired value; undefined: forgotten. */
  retire: RetireStatement | undefined;
}

/**
 * Combine with `op` over the numbers: NaN (NULL) contributes nothing, as in client_python; a series whose
 * processes all report NaN, and nothing retired, is NaN.
 */
function reduceWith(op: (a: number, b: number) => number): GaugeMode['combine'] {
  return (values, retired) => {
    if (values.length === 0 && !retired) return undefined;
    let acc: number | undefined = retired?.value;
    for (const g of values) {
      const x = g[2];
      if (x === null) continue;
      acc = acc === undefined ? x : op(acc, x);
    }
    return acc ?? Number.NaN;
  };
}

const sum = reduceWith((a, b) => a + b);
const min = reduceWith(Math.min);
const max = reduceWith(Math.max);

/** The value written last (a NaN included); the retired value counts as written at its `at`; ties go to a process. */
function mostRecent(values: readonly GaugeRow[], retired: Retired | undefined): number | undefined {
  let best = retired ? { v: retired.value, at: retired.at } : undefined;
  for (const g of values) if (!best || g[3] >= best.at) best = { v: g[2] ?? Number.NaN, at: g[3] };
  return best?.v;
}

/** Per-process modes render each value as it is; nothing is combined. */
const perProcess: GaugeMode['combine'] = () => undefined;

/** Every gauge `multiprocessMode` (modes.ts documents them for users). */
export const GAUGE_MODES: Readonly<Record<MultiprocessMode, GaugeMode>> = {
  all: { liveOnly: false, perProcess: true, combine: perProcess, retire: undefined },
  liveall: { liveOnly: true, perProcess: true, combine: perProcess, retire: undefined },
  sum: { liveOnly: false, perProcess: false, combine: sum, retire: 'retireSum' },
  livesum: { liveOnly: true, perProcess: false, combine: sum, retire: undefined },
  min: { liveOnly: false, perProcess: false, combine: min, retire: 'retireMin' },
  livemin: { liveOnly: true, perProcess: false, combine: min, retire: undefined },
  max: { liveOnly: false, perProcess: false, combine: max, retire: 'retireMax' },
  livemax: { liveOnly: true, perProcess: false, combine: max, retire: undefined },
  mostrecent: { liveOnly: false, perProcess: false, combine: mostRecent, retire: 'retireRecent' },
  livemostrecent: { liveOnly: true, perProcess: false, combine: mostRecent, retire: undefined },
};

/** The mode of a stored gauge (`metrics.mode`), or undefined for a name this version does not know. */
export function gaugeModeIfKnown(stored: string | null | undefined): GaugeMode | undefined {
  return stored && Object.hasOwn(GAUGE_MODES, stored) ? GAUGE_MODES[stored as MultiprocessMode] : undefined;
}

/**
 * The mode a stored gauge is rendered by. A definition is validated before it is stored, so an unknown name
 * comes only from a database written by another version: it is merged as the default mode.
 */
export function gaugeMode(stored: string | null | undefined): GaugeMode {
  return gaugeModeIfKnown(stored) ?? GAUGE_MODES[DEFAULT_MULTIPROCESS_MODE];
}

/** Whether a process's value counts in a series of this mode at this scrape. */
export function counts(mode: GaugeMode, writer: WriterView | undefined): boolean {
  return writer !== undefined && (writer.alive || !mode.liveOnly);
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

/**
 * The mode a gauge is merged by: its `multiprocessMode`, else one derived from its prom-client
 * `aggregator`, else the default; an error message naming the value when `multiprocessMode` is invalid.
 */
export function modeOf(
  multiprocessMode: unknown,
  aggregator: string | undefined,
): MultiprocessMode | { error: string } {
  if (multiprocessMode === undefined) return FROM_AGGREGATOR[aggregator ?? 'sum'] ?? DEFAULT_MULTIPROCESS_MODE;
  if (MULTIPROCESS_MODES.includes(multiprocessMode as MultiprocessMode)) return multiprocessMode as MultiprocessMode;
  return {
    error: `invalid multiprocessMode ${JSON.stringify(multiprocessMode)}: expected one of ${MULTIPROCESS_MODES.join(', ')}`,
  };
}

/**
 * The label that names the process in per-process modes: `pid`, unless the metric (or a registry default
 * label) has its own `pid`, which a second `pid` would duplicate and so invalidate the whole scrape (issue
 * 13 §1.3); then `process_pid`, or the first of `process_pid_2`, `process_pid_3`, ... not taken.
 */
export function processLabel(labelSets: Iterable<string>): string {
  let taken: Set<string> | undefined;
  for (const labels of labelSets) {
    if (!labels.includes('pid="')) continue;
    taken ??= new Set();
    for (const name of labelNamesOf(labels)) taken.add(name);
  }
  if (!taken?.has('pid')) return 'pid';
  if (!taken.has('process_pid')) return 'process_pid';
  let k = 2;
  while (taken.has(`process_pid_${k}`)) k++;
  return `process_pid_${k}`;
}
