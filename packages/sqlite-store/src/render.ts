import { type ExemplarRow, exemplarsBySeries } from './exemplars.js';
import type { WriterView } from './gc.js';
import { escapeHelp, formatNumber } from './labels.js';
import { counts, type GaugeMode, type GaugeRow, gaugeMode, type MetricType, processLabel } from './merge.js';
import { blobView, isVectorBlob, valueAt } from './vector-codec.js';

/** Rows as read in one read transaction (raw arrays, column order of the SELECTs in statements.ts). */
export interface Snapshot {
  /** id, name, type, help, label_names, buckets, mode */
  metrics: unknown[][];
  /** metric_id, id, labels, value, data, retired_at */
  series: unknown[][];
  /** series_id, writer_id, value, updated_at */
  gauges: unknown[][];
  /** series_id, slot, labels, value, ts (OpenMetrics scrapes only) */
  exemplars?: unknown[][];
  writers: WriterView[];
}

type SeriesRow = [number, number, string, number, Uint8Array | null, number | null];

/**
 * Render the merged exposition: counters and histograms straight from their merged rows; summaries as
 * `_sum` and `_count` only (quantiles cannot be merged across processes); gauges by their mode (merge.ts). `extra`
 * renders what follows the stored families (extra families, see render-extra.ts), before `# EOF`; it is
 * called once they are rendered, so that a scrape's duration it reports includes their rendering.
 */
export function render(snap: Snapshot, openMetrics: boolean, extra: () => string = () => ''): string {
  const out = renderStored(snap, openMetrics) + extra();
  return openMetrics ? `${out}# EOF\n` : out;
}

/** The stored families alone (what render() puts before the extra families and `# EOF`). */
export function renderStored(snap: Snapshot, openMetrics: boolean): string {
  const byMetric = new Map<number, SeriesRow[]>();
  for (const row of snap.series as SeriesRow[]) {
    const list = byMetric.get(row[0]);
    if (list) list.push(row);
    else byMetric.set(row[0], [row]);
  }
  const gaugeValues = new Map<number, GaugeRow[]>();
  for (const row of snap.gauges as GaugeRow[]) {
    const list = gaugeValues.get(row[0]);
    if (list) list.push(row);
    else gaugeValues.set(row[0], [row]);
  }
  const writers = new Map<number, WriterView>();
  for (const w of snap.writers) writers.set(w.row.id, w);
  const exemplars = openMetrics ? exemplarsBySeries((snap.exemplars ?? []) as ExemplarRow[]) : NO_EXEMPLARS;

  let out = '';
  for (const m of snap.metrics) {
    const [id, name, type, help, , bucketsJson, mode] = m as [
      number,
      string,
      MetricType,
      string,
      string,
      string | null,
      string | null,
    ];
    const rows = byMetric.get(id) ?? [];
    let body = '';
    if (type === 'counter') body = renderCounter(name, rows, openMetrics, exemplars);
    else if (type === 'histogram')
      body = renderHistogram(name, rows, JSON.parse(bucketsJson ?? '[]') as number[], openMetrics, exemplars);
    else if (type === 'summary') body = renderSummary(name, rows, openMetrics);
    else body = renderGauge(name, rows, gaugeMode(mode), gaugeValues, writers);
    if (!body && type === 'gauge') continue; // no process reports it (any more)
    const family = openMetrics && type === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
    out += `# HELP ${family} ${escapeHelp(help, openMetrics)}\n# TYPE ${family} ${type}\n${body}`;
  }
  return out;
}

const braces = (labels: string) => (labels ? `{${labels}}` : '');
/** Exemplars by series id, then slot, each as the suffix of its sample line (exemplars.ts). */
type Exemplars = Map<number, string[]>;
const NO_EXEMPLARS: Exemplars = new Map();

function renderCounter(name: string, rows: SeriesRow[], openMetrics: boolean, exemplars: Exemplars): string {
  const sample = openMetrics && !name.endsWith('_total') ? `${name}_total` : name;
  let out = '';
  for (const r of rows) out += `${sample}${braces(r[2])} ${formatNumber(r[3])}${exemplars.get(r[1])?.[0] ?? ''}\n`;
  return out;
}

/**
 * OpenMetrics makes `_sum` a counter: it must not be negative or NaN, and a histogram with negative bucket
 * bounds must have no `_sum` (and so no `_count`, which requires it). Such series are rendered with their
 * buckets only in OpenMetrics (issue 13 §1.7; the rule of the OpenMetrics 1.0 spec, as Python's parser
 * enforces it); the Prometheus text format, which allows them, keeps both.
 */
const counterLike = (v: number) => v >= 0;

function renderHistogram(
  name: string,
  rows: SeriesRow[],
  bounds: number[],
  openMetrics: boolean,
  exemplars: Exemplars,
): string {
  const le = bounds.map((b) => `le="${formatNumber(b)}"`);
  const n = bounds.length;
  const negativeBounds = openMetrics && bounds.some((b) => b < 0);
  let out = '';
  for (const r of rows) {
    const data = r[4];
    if (!isVectorBlob(data, n + 2)) continue;
    const v = blobView(data);
    const labels = r[2];
    const prefix = labels ? `${name}_bucket{${labels},` : `${name}_bucket{`;
    const ex = exemplars.get(r[1]);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += valueAt(v, i);
      out += `${prefix}${le[i]}} ${formatNumber(acc)}${ex?.[i] ?? ''}\n`;
    }
    const count = valueAt(v, n + 1);
    out += `${prefix}le="+Inf"} ${formatNumber(count)}${ex?.[n] ?? ''}\n`;
    const sum = valueAt(v, n);
    if (openMetrics && (negativeBounds || !counterLike(sum))) continue;
    out += `${name}_sum${braces(labels)} ${formatNumber(sum)}\n`;
    out += `${name}_count${braces(labels)} ${formatNumber(count)}\n`;
  }
  return out;
}

function renderSummary(name: string, rows: SeriesRow[], openMetrics: boolean): string {
  let out = '';
  for (const r of rows) {
    const data = r[4];
    if (!isVectorBlob(data, 2)) continue;
    const v = blobView(data);
    const sum = valueAt(v, 0);
    // A summary may carry _count alone; OpenMetrics rejects a negative or NaN _sum (a counter).
    if (!openMetrics || counterLike(sum)) out += `${name}_sum${braces(r[2])} ${formatNumber(sum)}\n`;
    out += `${name}_count${braces(r[2])} ${formatNumber(valueAt(v, 1))}\n`;
  }
  return out;
}

function renderGauge(
  name: string,
  rows: SeriesRow[],
  mode: GaugeMode,
  gaugeValues: Map<number, GaugeRow[]>,
  writers: Map<number, WriterView>,
): string {
  const pidLabel = mode.perProcess ? processLabel(rows.map((r) => r[2])) : 'pid';
  let out = '';
  for (const r of rows) {
    const values = (gaugeValues.get(r[1]) ?? []).filter((g) => counts(mode, writers.get(g[1])));
    if (mode.perProcess) {
      for (const g of values.sort((a, b) => (writers.get(a[1])?.row.pid ?? 0) - (writers.get(b[1])?.row.pid ?? 0))) {
        const pid = `${pidLabel}="${writers.get(g[1])?.row.pid ?? 0}"`;
        out += `${name}{${r[2] ? `${r[2]},` : ''}${pid}} ${formatNumber(g[2] ?? Number.NaN)}\n`;
      }
      continue;
    }
    const retired = !mode.liveOnly && r[5] !== null ? { value: r[3], at: r[5] } : undefined;
    const v = mode.combine(values, retired);
    if (v !== undefined) out += `${name}${braces(r[2])} ${formatNumber(v)}\n`;
  }
  return out;
}
